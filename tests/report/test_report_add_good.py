"""A defects run made by `vislearn defects add-good` shows what was added (add_good.json) in its report."""
import json

from PIL import Image

from vislearn.report import write_report


def _record(tmp_path) -> dict:
    for name in ("new_1.png", "new_2.png", "speck.png"):
        Image.new("L", (8, 8), 120).save(tmp_path / name)
    return {"added": 2, "from_run": "/runs/textile", "threshold_before": 1.0, "threshold_after": 1.12, "good_images_in_model": 98,
            "student": "left as trained", "recomputed": ["coarse bank: 4096 + 210 patches", "whole-image Gaussian: 96 fitted + 2 new images"],
            "seconds": {"score the new images": 1.25, "total": 6.5},
            "images": [{"path": str(tmp_path / "new_1.png"), "score_before": 1.8, "flagged_before": True, "added": True,
                        "score_after": 0.4, "flagged_after": False},
                       {"path": str(tmp_path / "new_2.png"), "score_before": 1.3, "flagged_before": True, "added": True,
                        "score_after": 1.2, "flagged_after": True},
                       {"path": str(tmp_path / "speck.png"), "score_before": 4.1, "flagged_before": True, "added": False}],
            "skipped": [{"path": "broken.png", "reason": "truncated PNG"}]}


def _section(html: str) -> str:
    section = html[html.index('<section id="add-good">'):]
    return section[:section.index("</section>")]


def test_the_section_shows_threshold_images_left_out_and_unreadable_files(tmp_path):
    (tmp_path / "add_good.json").write_text(json.dumps(_record(tmp_path)))
    html = write_report(tmp_path).read_text()
    section = _section(html)
    assert "2 good images from the user joined the memory of" in section and "/runs/textile" in section
    assert "1 were left out because they look like a real defect" in section
    assert "Of the 3 images scored, 3 were flagged by the run as it was; 1 of those added are still flagged now." in section
    assert "Threshold 1.000 &rarr; 1.120" in section
    assert "coarse bank: 4096 + 210 patches" in section and "score the new images" in section and "1.2 s" in section
    assert section.count("data:image/png;base64,") == 3
    assert "added, passes now" in section and '<strong class="worse">added, still flagged</strong>' in section
    assert '<strong class="worse">left out: looks like a real defect</strong>' in section
    assert "broken.png" in section and "truncated PNG" in section
    assert 'href="#add-good"' in html


def test_no_section_without_add_good_and_a_broken_file_is_noted(tmp_path):
    assert 'id="add-good"' not in write_report(tmp_path).read_text()
    (tmp_path / "add_good.json").write_text("[1, 2]")
    html = write_report(tmp_path).read_text()
    assert 'id="add-good"' in html and "add_good.json" in _section(html)
