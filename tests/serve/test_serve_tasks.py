"""A run of every task answers over HTTP through one endpoint (slow: trains four tiny runs): the typed prediction as
JSON with refer_to_human, the picture a person looks at, the segmentation mask; then a real server drains on shutdown."""
import asyncio
import base64
import io

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from live_server import running_server
from PIL import Image
from tiny_runs import TINY_RUN

import vislearn
from vislearn.data.samples.defects import write_texture
from vislearn.data.samples.detect import write_detect_sample
from vislearn.data.samples.segment import write_shapes_sample
from vislearn.engine.device import one_thread
from vislearn.serve.answers import ANSWERS
from vislearn.serve.app import Settings, create_app
from vislearn.serve.served import ServedRun
from vislearn.tasks import TASKS

pytestmark = pytest.mark.slow


def _defects(root):
    write_texture("brick", root / "brick", np.random.default_rng(0), size=32, n_train=10, n_test_good=3, n_per_defect=1)
    return root / "brick", dict(model="tiny_cnn", image_size=32, batch_size=8, extra={"method": "random-distill"}), "test/good/000.png"


def _detect(root):
    write_detect_sample(root / "boxes", quiet=True, limit=6, size=64)
    return root / "boxes", dict(model="tiny_det", image_size=64, batch_size=8), "images/test/0000.png"


def _segment(root):
    write_shapes_sample(root / "shapes", count=12, size=48, quiet=True)
    return root / "shapes", dict(model="tiny_unet", image_size=32, batch_size=8), "images/shapes_0001.png"


RECIPES = {"defects": _defects, "detect": _detect, "segment": _segment}
KEYS = {"classify": {"predicted", "confidence", "probabilities"}, "defects": {"verdict", "is_defect", "score"},
        "detect": {"boxes", "image_wh"}, "segment": {"class_fractions", "mask_hw"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory, classify_run):
    """task -> (run folder, one image), every registered task."""
    root, runs = tmp_path_factory.mktemp("tasks"), {"classify": classify_run}
    with one_thread():
        for name, recipe in RECIPES.items():
            data, options, image = recipe(root)
            runs[name] = (vislearn.train(name, data=data, out=root / name, **TINY_RUN, **options).dir, data / image)
    return runs


def test_every_task_can_be_served():
    assert set(TASKS.names()) <= set(ANSWERS.names()) and set(TASKS.names()) <= set(KEYS)


def test_every_task_answers_with_its_prediction_and_picture(served):
    app = create_app([ServedRun.load(task, run_dir) for task, (run_dir, _) in served.items()])
    with TestClient(app) as client:
        listed = {r["name"]: r["task"] for r in client.get("/v1/runs").json()["runs"]}
        assert listed == {task: task for task in served}
        for task, (_, image) in served.items():
            response = client.post(f"/v1/runs/{task}/predict?picture=true&mask=true", content=image.read_bytes())
            assert response.status_code == 200, (task, response.text)
            body = response.json()
            assert body["task"] == task and KEYS[task] <= set(body["prediction"])
            assert isinstance(body["prediction"]["refer_to_human"], bool) and isinstance(body["prediction"]["refer_reason"], str)
            picture = Image.open(io.BytesIO(base64.b64decode(body["picture_png_base64"])))
            assert picture.format == "PNG" and picture.size[0] >= 8
            assert ("mask_png_base64" in body) == (task == "segment")
        segment_image = served["segment"][1]
        body = client.post("/v1/runs/segment/predict?mask=true", content=segment_image.read_bytes()).json()
        mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["mask_png_base64"]))))
        assert mask.shape == Image.open(segment_image).size[::-1]
        assert mask.max() < len(vislearn.load_run(served["segment"][0]).class_names)


def test_requests_in_flight_at_shutdown_are_answered(classify_run):
    """Eight requests sit in the batcher (max_wait 1.5 s) when the server is told to stop: all eight get 200."""
    run_dir, image = classify_run
    app = create_app([ServedRun.load("digits", run_dir)], Settings(max_batch=64, max_wait_ms=1500))

    async def fire(url, server):
        async with httpx.AsyncClient(timeout=60) as client:
            pending = [asyncio.ensure_future(client.post(f"{url}/v1/runs/digits/predict", content=image.read_bytes())) for _ in range(8)]
            await asyncio.sleep(0.5)  # sent, and waiting for their batch
            server.should_exit = True
            return await asyncio.gather(*pending)

    with running_server(app) as (url, server):
        responses = asyncio.run(fire(url, server))
    assert [r.status_code for r in responses] == [200] * 8
    assert {r.json()["prediction"]["predicted"] for r in responses} <= {"0", "1", "2"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=5)
