"""The HTTP API in-process (httpx through FastAPI's TestClient): the answer is `vislearn predict`'s, bad input gets the
right status and a reason, the API key guards /v1 and /metrics, and the metrics count what happened."""
import base64
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import vislearn
from vislearn.serve.app import Settings, create_app
from vislearn.serve.served import ServedRun
from vislearn.serve.uploads import Limits, bomb_png

KEY = "k" * 24


@pytest.fixture(scope="module")
def client(classify_run):
    run_dir, _ = classify_run
    with TestClient(create_app([ServedRun.load("digits", run_dir)], Settings(Limits(max_bytes=2_000_000)))) as c:
        yield c


def test_the_served_answer_is_vislearn_predicts_answer(client, classify_run):
    run_dir, image = classify_run
    expected = vislearn.predict(run_dir, [image], progress=False)[0][0]
    raw = client.post("/v1/runs/digits/predict", content=image.read_bytes(), headers={"content-type": "image/png"})
    form = client.post("/v1/runs/digits/predict", files={"file": ("whatever/../../name.png", image.read_bytes(), "image/png")})
    for response in (raw, form):
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["run"], body["task"], body["image"]) == ("digits", "classify", {"width": 8, "height": 8})
        p = body["prediction"]
        assert p["predicted"] == expected.predicted and p["refer_to_human"] == expected.refer_to_human
        assert p["refer_reason"] == expected.refer_reason
        assert p["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
        assert set(p["probabilities"]) == {"0", "1", "2"}
        assert "picture_png_base64" not in body


def test_picture_is_a_png_of_the_grad_cam_overlay(client, classify_run):
    body = client.post("/v1/runs/digits/predict?picture=true", content=classify_run[1].read_bytes()).json()
    picture = Image.open(io.BytesIO(base64.b64decode(body["picture_png_base64"])))
    assert picture.format == "PNG" and min(picture.size) >= 8


@pytest.mark.parametrize(("content", "status", "words"), [
    (b"", 400, "empty body"),
    (b"plain text, not an image", 415, "not an image"),
])
def test_bad_bodies_get_a_status_and_a_reason(client, content, status, words):
    response = client.post("/v1/runs/digits/predict", content=content)
    assert response.status_code == status and words in response.json()["detail"]


def test_a_truncated_image_is_422(client):
    whole = io.BytesIO()
    Image.effect_noise((64, 64), 60).save(whole, format="PNG")
    response = client.post("/v1/runs/digits/predict", content=whole.getvalue()[: len(whole.getvalue()) // 2])
    assert response.status_code == 422 and "does not decode" in response.json()["detail"]


def test_an_upload_over_the_limit_is_413_without_reading_it_all(client):
    response = client.post("/v1/runs/digits/predict", content=b"\0" * 3_000_000, headers={"content-type": "image/png"})
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]


def test_a_50_mb_upload_is_413_under_the_default_20_mb_limit(classify_run):
    with TestClient(create_app([ServedRun.load("digits", classify_run[0])], Settings(warm_up=False))) as c:
        response = c.post("/v1/runs/digits/predict", content=b"\xff" * 50_000_000, headers={"content-type": "image/jpeg"})
    assert response.status_code == 413 and "20.0 MB" in response.json()["detail"]


def test_a_decompression_bomb_is_422(client):
    """20,000 x 20,000 pixels in a few kB of PNG: refused from its header, never decoded."""
    response = client.post("/v1/runs/digits/predict", files={"file": ("bomb.png", bomb_png(), "image/png")})
    assert response.status_code == 422 and "too many pixels" in response.json()["detail"]


def test_a_multipart_upload_without_a_file_field_is_400(client):
    response = client.post("/v1/runs/digits/predict", files={"image": ("a.png", b"not read", "image/png")})
    assert response.status_code == 400 and "'file'" in response.json()["detail"]


def test_unknown_run_is_404_and_lists_the_served_ones(client, classify_run):
    response = client.post("/v1/runs/cats/predict", content=classify_run[1].read_bytes())
    assert response.status_code == 404 and "served: digits" in response.json()["detail"]
    assert client.post("/v1/runs/..%2F..%2Fetc/predict", content=classify_run[1].read_bytes()).status_code == 404


def test_runs_health_readiness_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    runs = client.get("/v1/runs").json()["runs"]
    assert [(r["name"], r["task"], r["classes"]) for r in runs] == [("digits", "classify", ["0", "1", "2"])]
    assert runs[0]["options"]["backend"] in ("onnx", "torch")
    assert "/v1/runs/{name}/predict" in client.get("/openapi.json").json()["paths"]
    assert "drop an image" in client.get("/").text.lower()


def test_metrics_count_requests_batches_and_referrals(client, classify_run):
    for _ in range(3):
        client.post("/v1/runs/digits/predict", content=classify_run[1].read_bytes())
    client.post("/v1/runs/digits/predict", content=b"text")
    text = client.get("/metrics").text
    ok = next(float(line.split()[-1]) for line in text.splitlines() if line.startswith('vislearn_requests_total{run="digits",status="200"}'))
    assert ok >= 3
    assert 'vislearn_requests_total{run="digits",status="415"}' in text
    assert "vislearn_batch_size_count" in text and "vislearn_request_seconds_bucket" in text
    # one epoch on 24 digits: the tiny model is unsure of everything, so it refers (low confidence)
    assert 'vislearn_referrals_total{reason="low confidence",run="digits"}' in text


def test_the_api_key_guards_the_api_but_not_health(classify_run):
    app = create_app([ServedRun.load("digits", classify_run[0])], Settings(api_key=KEY, warm_up=False))
    image = classify_run[1].read_bytes()
    with TestClient(app) as c:
        assert c.post("/v1/runs/digits/predict", content=image).status_code == 401
        assert c.post("/v1/runs/digits/predict", content=image, headers={"x-api-key": "wrong"}).status_code == 401
        assert c.get("/metrics").status_code == 401 and c.get("/v1/runs").status_code == 401
        assert c.post("/v1/runs/digits/predict", content=image, headers={"x-api-key": KEY}).status_code == 200
        assert c.get("/v1/runs", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200


def test_two_runs_with_one_name_are_refused(classify_run):
    served = ServedRun.load("digits", classify_run[0])
    with pytest.raises(ValueError, match="distinct names"):
        create_app([served, served])
