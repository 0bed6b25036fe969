"""The web page in a real browser (Debian's chromium driven by Playwright): choose a file, read the prediction in plain
words, see the overlay picture, then label the referred image in the review queue with a key press; a screenshot is
saved in the test's folder. CI installs chromium (.ci/run) and sets
VISLEARN_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping."""
import os
import shutil

import pytest
from live_server import running_server

from vislearn.serve.app import create_app
from vislearn.serve.review_queue import CORRECTIONS, ReviewQueue
from vislearn.serve.served import ServedRun

pytestmark = pytest.mark.slow


def _chromium() -> str:
    found = os.environ.get("VISLEARN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("VISLEARN_REQUIRE_BROWSER") == "1":
            pytest.fail("no chromium on PATH (apt-get install chromium, or set VISLEARN_CHROMIUM)")
        pytest.skip("no chromium on PATH: the browser test needs Debian's chromium (apt-get install chromium)")
    return found


def test_the_page_uploads_an_image_and_shows_the_answer_and_the_overlay(classify_run, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    run_dir, image = classify_run
    served = ServedRun.load("digits", run_dir)
    served.queue = ReviewQueue(tmp_path / "queue", list(served.run.class_names), log=lambda m: None)
    with running_server(create_app([served])) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.wait_for_selector("#run option[value=digits]", state="attached", timeout=30_000)
            page.set_input_files("#file", str(image))
            page.wait_for_selector("#prediction", timeout=60_000)
            text = page.inner_text("#answer")
            assert "Predicted:" in text and "calibrated confidence" in text
            # the tiny run is unsure of everything: the referral is said in plain words
            assert "Refer to a human" in text and "not sure enough" in text
            page.wait_for_function("document.getElementById('overlay').naturalWidth > 0", timeout=30_000)
            assert page.is_visible("#overlay") and "Grad-CAM" in page.inner_text("#overlaycap")
            # the referred image is now first in the review queue: Enter accepts the proposed label, 3 would pick class "2"
            page.wait_for_selector("#qitem:not([hidden])", timeout=30_000)
            page.wait_for_function("document.getElementById('qimage').naturalWidth > 0", timeout=30_000)
            assert "referred to a human" in page.inner_text("#qnote") and "Accept" in page.inner_text("#qaccept")
            page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)
            page.keyboard.press("3")
            page.wait_for_selector("#qempty:not([hidden])", timeout=30_000)
            assert '"2" written' in page.inner_text("#qdone")
        finally:
            browser.close()
    assert (tmp_path / "serve_page.png").stat().st_size > 1000
    rows = (tmp_path / "queue" / CORRECTIONS).read_text().splitlines()
    assert rows[0] == "path,label" and len(rows) == 2 and rows[1].startswith("referred/") and rows[1].endswith(",2")
