"""The HTTP API of ``vislearn serve`` (FastAPI): predict on any served run, list runs, health, readiness, metrics, a page.

    POST /v1/runs/{name}/predict   an image (raw body, or multipart field "file") -> the task's typed prediction as JSON
                                   ?picture=true adds the overlay PNG (base64), ?mask=true a segmentation mask PNG
    GET  /v1/runs                  the served runs (task, classes, image size, backend, whether it has a review queue)
    GET  /v1/runs/{name}/queue     with --review-dir: the images a person should label (referred uploads, suggest/review CSVs)
    GET  /v1/runs/{name}/queue/{id}/image   one queued image as PNG
    POST /v1/runs/{name}/queue/{id}         {"label": "cat"}: the person's label, written to the corrections CSV
    GET  /healthz /readyz          alive / models loaded and not shutting down (503 otherwise)
    GET  /metrics                  Prometheus text
    GET  /                         the web page (drag and drop, camera), served from the package: no CDN
    GET  /docs                     the OpenAPI docs

Errors are JSON ``{"detail": "..."}`` in plain words: 400 empty body, 401 wrong or missing API key, 404 unknown run,
413 too large, 415 not an image, 422 an image that will not decode or has too many pixels (or a label that is not a
class), 503 shutting down, 504 not answered within the request timeout.
"""
from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .batching import Batcher
from .page import PAGE_HTML
from .served import Request as ImageRequest
from .served import ServedRun
from .telemetry import Telemetry
from .uploads import Limits, UploadRefused, check_upload, too_large

OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs", "/openapi.json", "/docs/oauth2-redirect"})


@dataclass(frozen=True)
class Settings:
    """max_batch / max_wait_ms: dynamic batching; request_timeout_s: the longest a request waits for its answer;
    api_key: required on /v1/* and /metrics when set (header ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``)."""

    limits: Limits = Limits()
    max_batch: int = 16
    max_wait_ms: float = 10.0
    request_timeout_s: float = 30.0
    api_key: str | None = None
    warm_up: bool = True


class _State:
    def __init__(self, runs: Sequence[ServedRun], settings: Settings):
        self.runs = {r.name: r for r in runs}
        self.settings = settings
        self.telemetry = Telemetry()
        self.batchers = {name: Batcher(r.answer, settings.max_batch, settings.max_wait_ms, self.telemetry.batch_size.labels(name).observe,
                                       name, r.torch_threads(), r.workers()) for name, r in self.runs.items()}
        self.ready = False
        self.draining = False


def create_app(runs: Sequence[ServedRun], settings: Settings = Settings()) -> FastAPI:
    """The ASGI app answering for ``runs`` (their names must be distinct)."""
    if len({r.name for r in runs}) != len(runs):
        raise ValueError(f"served runs need distinct names (got {[r.name for r in runs]})")
    state = _State(runs, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for name, batcher in state.batchers.items():
            batcher.start()
            if settings.warm_up:
                await batcher.run_now(state.runs[name].warm_up)
        state.ready = True
        yield
        state.draining = True  # readyz says 503 from here; queued requests are still answered
        for batcher in state.batchers.values():
            await batcher.stop()

    app = FastAPI(title="vislearn serve", description="Predictions of trained vislearn runs", lifespan=lifespan)
    app.state.vislearn = state

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        if settings.api_key and request.url.path not in OPEN_PATHS and not _key_matches(request, settings.api_key):
            return JSONResponse({"detail": "missing or wrong API key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY')"}, 401)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE_HTML)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = state.ready and not state.draining
        return JSONResponse({"ready": ready, "draining": state.draining}, 200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = state.telemetry.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/runs")
    async def list_runs() -> dict:
        return {"runs": [r.describe() for r in state.runs.values()]}

    @app.post("/v1/runs/{name}/predict", openapi_extra={"requestBody": {"required": True, "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
    async def predict(name: str, request: Request, picture: bool = False, mask: bool = False) -> JSONResponse:
        """The run's typed prediction for one image, with ``refer_to_human`` and its reason."""
        started = time.perf_counter()
        served = state.runs.get(name)
        if served is None:
            return JSONResponse({"detail": f"no run named {name!r} is served (served: {', '.join(state.runs)})"}, 404)
        try:
            if state.draining:
                raise UploadRefused(503, "the server is shutting down")
            data = await _read_image_bytes(request, settings.limits.max_bytes)
            # decoding the whole image (the truncation check) runs in a thread: never on the event loop
            upload = await asyncio.to_thread(check_upload, data, settings.limits)
            answer = await asyncio.wait_for(state.batchers[name].submit(ImageRequest(upload, picture, mask)),
                                            settings.request_timeout_s)
            if isinstance(answer, UploadRefused):
                raise answer
        except UploadRefused as refused:
            state.telemetry.requests.labels(name, str(refused.status)).inc()
            return JSONResponse({"detail": str(refused)}, refused.status)
        except TimeoutError:
            state.telemetry.requests.labels(name, "504").inc()
            return JSONResponse({"detail": f"no answer within {settings.request_timeout_s:g} s"}, 504)
        prediction = answer["prediction"]
        if prediction.get("refer_to_human"):
            state.telemetry.referrals.labels(name, prediction.get("refer_reason") or "referred").inc()
            if served.queue is not None:
                await asyncio.to_thread(served.queue.add_referred, upload.data, upload.suffix, prediction)
        state.telemetry.requests.labels(name, "200").inc()
        state.telemetry.latency.labels(name).observe(time.perf_counter() - started)
        return JSONResponse({"run": name, "task": served.task, "image": {"width": upload.width, "height": upload.height}, **answer})

    @app.get("/v1/runs/{name}/queue")
    async def queue(name: str, answered: bool = False) -> JSONResponse:
        """The images of the run's review queue still to label (all of them with ``answered=true``)."""
        found = _queue_of(state, name)
        return found if isinstance(found, JSONResponse) else JSONResponse({"run": name, **found.items(answered)})

    @app.get("/v1/runs/{name}/queue/{item_id}/image")
    async def queue_image(name: str, item_id: str) -> Response:
        found = _queue_of(state, name)
        if isinstance(found, JSONResponse):
            return found
        png = await asyncio.to_thread(found.picture, item_id)
        if png is None:
            return JSONResponse({"detail": f"no readable queued image {item_id!r}"}, 404)
        return Response(png, media_type="image/png")

    @app.post("/v1/runs/{name}/queue/{item_id}")
    async def queue_answer(name: str, item_id: str, request: Request) -> JSONResponse:
        """A person's label for one queued image: body ``{"label": "cat"}``; written to the corrections CSV."""
        found = _queue_of(state, name)
        if isinstance(found, JSONResponse):
            return found
        try:
            label = (await request.json()).get("label")
        except (ValueError, AttributeError):
            label = None
        if not isinstance(label, str):
            return JSONResponse({"detail": 'send JSON {"label": "<class name>"}'}, 400)
        try:
            written = await asyncio.to_thread(found.answer, item_id, label)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, 422)
        if written is None:
            return JSONResponse({"detail": f"no queued image {item_id!r}"}, 404)
        return JSONResponse({"run": name, **written})

    return app


def _queue_of(state: _State, name: str):
    """The run's ReviewQueue, or the JSON 404 a client gets for an unknown run or a run served without one."""
    served = state.runs.get(name)
    if served is None:
        return JSONResponse({"detail": f"no run named {name!r} is served (served: {', '.join(state.runs)})"}, 404)
    if served.queue is None:
        return JSONResponse({"detail": f"run {name!r} has no review queue (start the server with --review-dir DIR; "
                                       "classify runs only)"}, 404)
    return served.queue


def _key_matches(request: Request, key: str) -> bool:
    given = request.headers.get("x-api-key") or ""
    bearer = request.headers.get("authorization") or ""
    if bearer.lower().startswith("bearer "):
        given = given or bearer[7:].strip()
    return hmac.compare_digest(given.encode(), key.encode())


async def _read_image_bytes(request: Request, max_bytes: int) -> bytes:
    """The image of a raw body or of the multipart field "file", read no further than ``max_bytes`` (413 beyond)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:  # multipart headers add a little
        raise UploadRefused(413, too_large(int(declared), max_bytes))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes + 64 * 1024:
            raise UploadRefused(413, too_large(None, max_bytes))
        chunks.append(chunk)
    body = b"".join(chunks)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return body
    async def replay() -> dict:  # the form parser reads the body already read (and bounded) above
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    file = form.get("file")
    if file is None or isinstance(file, str):
        raise UploadRefused(400, "multipart upload without a file field named 'file'")
    return await file.read()
