"""The review queue of a served classify run (``--review-dir``): suggest/review CSV rows and referred uploads one by one,
a person's label written to a corrections CSV that ``train --corrections`` reads, kept across a restart; bad input refused."""
import argparse
import csv
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from vislearn.errors import DataLayoutError, VislearnError
from vislearn.serve.app import Settings, create_app
from vislearn.serve.review_queue import CORRECTIONS, ReviewQueue
from vislearn.serve.served import ServedRun
from vislearn.serve.server import add_arguments, attach_review_queues
from vislearn.tasks.classify.corrections import read_corrections

CLASSES = ["0", "1", "2"]


def _suggest_csv(folder, images):
    """A `vislearn suggest` CSV listing ``images`` (paths relative to the CSV, as suggest writes them)."""
    path = folder / "suggest.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "path", "list", "predicted", "confidence", "uncertainty", "unlike_score"])
        for rank, image in enumerate(images, 1):
            writer.writerow([rank, image.relative_to(folder).as_posix(), "uncertain", "1", 0.4, 0.6, ""])
    return path


def _noise_png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((16, 16), 40 + seed).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def served(classify_run, tmp_path):
    run_dir, image = classify_run
    pool = tmp_path / "pool"
    pool.mkdir()
    images = []
    for i, source in enumerate(sorted(image.parent.iterdir())[:3]):
        images.append(pool / f"p{i}.png")
        images[-1].write_bytes(source.read_bytes())
    run = ServedRun.load("digits", run_dir)
    args = argparse.ArgumentParser()
    add_arguments(args)
    ns = args.parse_args([str(run_dir), "--review-dir", str(tmp_path / "queue"), "--review-csv", str(_suggest_csv(pool, images)),
                          "--review-keep", "2"])
    attach_review_queues([run], ns.review_dir, ns.review_csv, ns.review_keep, log=lambda m: None)
    return run, images, tmp_path / "queue" / "digits"


def test_suggested_images_are_queued_and_a_label_goes_to_the_corrections_csv(served):
    run, images, folder = served
    with TestClient(create_app([run], Settings())) as client:
        assert client.get("/v1/runs").json()["runs"][0]["review_queue"] is True
        queue = client.get("/v1/runs/digits/queue").json()
        assert (queue["left"], queue["answered"], queue["classes"]) == (3, 0, CLASSES)
        first, second = queue["items"][:2]
        assert (first["file"], first["source"], first["proposed"]) == ("p0.png", "suggested", "1")
        picture = client.get(f"/v1/runs/digits/queue/{first['id']}/image")
        assert picture.headers["content-type"] == "image/png" and Image.open(io.BytesIO(picture.content)).size == (8, 8)
        assert client.post(f"/v1/runs/digits/queue/{first['id']}", json={"label": "2"}).json()["left"] == 2
        assert client.post(f"/v1/runs/digits/queue/{second['id']}", json={"label": "1"}).status_code == 200
        # a second answer for the same image replaces the first
        assert client.post(f"/v1/runs/digits/queue/{first['id']}", json={"label": "0"}).status_code == 200
        left = client.get("/v1/runs/digits/queue").json()
        assert [i["file"] for i in left["items"]] == ["p2.png"] and left["answered"] == 2
    rows = list(csv.DictReader(open(folder / CORRECTIONS)))
    assert len(rows) == 2 and {r["label"] for r in rows} == {"0", "1"}
    # the file `train classify --corrections` reads: paths relative to the CSV, resolved to the images
    assert read_corrections(folder / CORRECTIONS, CLASSES) == {str(images[0].resolve()): 0, str(images[1].resolve()): 1}


def test_answers_are_kept_across_a_restart(served):
    run, images, folder = served
    with TestClient(create_app([run], Settings())) as client:
        item = client.get("/v1/runs/digits/queue").json()["items"][0]
        client.post(f"/v1/runs/digits/queue/{item['id']}", json={"label": "2"})
    again = ReviewQueue(folder, CLASSES, [images[0].parent / "suggest.csv"], log=lambda m: None).items()
    assert again["left"] == 2 and item["id"] not in {i["id"] for i in again["items"]}


def test_referred_uploads_join_the_queue_once_each_up_to_the_bound(served):
    run, _, folder = served
    with TestClient(create_app([run], Settings())) as client:
        for seed in (0, 0, 1, 2):  # the tiny run refers every image; the same image twice is one item; keep = 2
            body = client.post("/v1/runs/digits/predict", content=_noise_png(seed)).json()
            assert body["prediction"]["refer_to_human"]
        referred = [i for i in client.get("/v1/runs/digits/queue").json()["items"] if i["source"] == "referred"]
        assert len(referred) == 2 and all(i["proposed"] in CLASSES and "referred to a human" in i["note"] for i in referred)
        client.post(f"/v1/runs/digits/queue/{referred[0]['id']}", json={"label": "2"})
    assert len(list((folder / "referred").glob("*.png"))) == 2
    corrections = read_corrections(folder / CORRECTIONS, CLASSES)
    assert list(corrections.values()) == [2] and next(iter(corrections)).startswith(str((folder / "referred").resolve()))
    # a restart queues the kept uploads again, with the answer the run gave then
    again = ReviewQueue(folder, CLASSES, log=lambda m: None).items(include_answered=True)["items"]
    assert sorted(i["proposed"] for i in again) == sorted(i["proposed"] for i in referred)


def test_bad_answers_and_unknown_items_are_refused(served):
    run, _, _ = served
    with TestClient(create_app([run], Settings())) as client:
        item = client.get("/v1/runs/digits/queue").json()["items"][0]
        wrong = client.post(f"/v1/runs/digits/queue/{item['id']}", json={"label": "cat"})
        assert wrong.status_code == 422 and "not a class" in wrong.json()["detail"]
        assert client.post(f"/v1/runs/digits/queue/{item['id']}", content=b"not json").status_code == 400
        assert client.post("/v1/runs/digits/queue/../../etc/passwd", json={"label": "1"}).status_code == 404
        assert client.post("/v1/runs/digits/queue/0123456789abcdef", json={"label": "1"}).status_code == 404
        assert client.get("/v1/runs/digits/queue/0123456789abcdef/image").status_code == 404
        assert client.get("/v1/runs/nope/queue").status_code == 404


def test_a_run_served_without_a_queue_says_how_to_get_one(classify_run):
    with TestClient(create_app([ServedRun.load("digits", classify_run[0])], Settings())) as client:
        response = client.get("/v1/runs/digits/queue")
        assert response.status_code == 404 and "--review-dir" in response.json()["detail"]
        assert client.get("/v1/runs").json()["runs"][0]["review_queue"] is False


def test_review_csv_errors_name_the_problem(classify_run, tmp_path):
    run = ServedRun.load("digits", classify_run[0])
    with pytest.raises(VislearnError, match="needs --review-dir"):
        attach_review_queues([run], None, ["x.csv"], 10, print)
    with pytest.raises(VislearnError, match="not a served classify run"):
        attach_review_queues([run], str(tmp_path), ["other=x.csv"], 10, print)
    with pytest.raises(VislearnError, match="no such file"):
        attach_review_queues([run], str(tmp_path), ["missing.csv"], 10, print)
    odd = tmp_path / "odd.csv"
    odd.write_text("path,score\na.png,1\n")
    with pytest.raises(DataLayoutError, match="suggest.*review"):
        attach_review_queues([run], str(tmp_path), [str(odd)], 10, print)
    review = tmp_path / "review.csv"
    review.write_text("rank,path,given,suggested,given_probability,suggested_probability,margin,run_predicted\n"
                      "1,a.png,0,cat,0.1,0.9,0.8,1\n")
    with pytest.raises(DataLayoutError, match="'cat' of a.png is not a class"):
        attach_review_queues([run], str(tmp_path), [str(review)], 10, print)
    review.write_text("rank,path,given,suggested,given_probability,suggested_probability,margin,run_predicted\n"
                      "1,a.png,0,2,0.1,0.9,0.8,1\n")
    attach_review_queues([run], str(tmp_path / "q"), [f"digits={review}"], 10, lambda m: None)
    item = run.queue.items()["items"][0]
    assert (item["source"], item["given"], item["proposed"]) == ("review", "0", "2") and "labelled '0'" in item["note"]
