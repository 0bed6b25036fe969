"""One run as the server holds it: loaded once, answering a batch of checked uploads through its task's ``predict``.

The uploads of a batch are written under generated names (``0000.png``, ...) in a private temporary folder that lives
for that batch only, and handed to the task's :meth:`~vislearn.tasks.base.Task.predict` in one call: the same file ->
preprocessing -> model -> calibration -> decision chain as ``vislearn predict``, so a served answer cannot drift
from the command line's. Models stay loaded between batches (:meth:`vislearn.run.Run.kept`).
"""
from __future__ import annotations

import base64
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..errors import VislearnError
from ..run import Run
from ..tasks import TASKS
from .answers import ANSWERS, Answering, mask_png
from .uploads import Upload, UploadRefused

if TYPE_CHECKING:
    from .review_queue import ReviewQueue


@dataclass(frozen=True)
class Request:
    """One image to answer: the checked upload, and whether to add the picture / the segmentation mask (PNG, base64)."""

    upload: Upload
    picture: bool = False
    mask: bool = False


@dataclass
class ServedRun:
    """queue: the run's review queue (``--review-dir``, classify runs), None without one."""

    name: str
    run: Run
    queue: ReviewQueue | None = None

    @classmethod
    def load(cls, name: str, run_dir: str | Path) -> ServedRun:
        run = Run.load(run_dir)
        if run.config.task not in ANSWERS:
            raise VislearnError(f"{run_dir}: {run.config.task} runs cannot be served (served: {', '.join(ANSWERS.names())})")
        return cls(name, run)

    @property
    def task(self) -> str:
        return self.run.config.task

    @property
    def answering(self) -> Answering:
        return ANSWERS.get(self.task)

    def torch_threads(self) -> int | None:
        """1 when the run's model runs in ONNX Runtime (its own threads do the heavy part), else None (torch's default).

        Measured on the loaded 2-core machine, Lite0 at 224 px: 172 -> 70 ms per image, most of it torch's thread pool
        waking for each small step between ONNX Runtime calls."""
        return 1 if self.answering.predict_options(self.run).get("backend") == "onnx" else None

    def workers(self) -> int:
        """Batches in flight at once: 2 where the model runs in ONNX Runtime (its session may be called from two threads,
        so one batch is decoded while another is in the model), else 1 (an eager model is called by one thread)."""
        return 2 if self.torch_threads() == 1 else 1

    def describe(self) -> dict:
        """What ``GET /v1/runs`` lists for this run."""
        return {"name": self.name, "task": self.task, "classes": list(self.run.class_names), "model": self.run.config.model,
                "image_size": self.run.preprocessing.image_size, "options": self.answering.predict_options(self.run),
                "review_queue": self.queue is not None}

    def warm_up(self) -> None:
        """Load the model (and time the backends where the task chooses one) before the first request."""
        side = max(8, self.run.preprocessing.image_size)
        buffer = io.BytesIO()
        Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, format="PNG")
        data = buffer.getvalue()
        self.answer([Request(Upload(data, ".png", side, side))])

    def answer(self, requests: list[Request]) -> list[dict | UploadRefused]:
        """One JSON answer per request, in order; an image the task could not read is an :class:`UploadRefused` (422)."""
        answering = self.answering
        with tempfile.TemporaryDirectory(prefix="vislearn-serve-") as folder:
            paths = [Path(folder) / f"{i:04d}{r.upload.suffix}" for i, r in enumerate(requests)]
            for path, request in zip(paths, requests):
                path.write_bytes(request.upload.data)
            predictions, problems = TASKS.get(self.task).predict(self.run, paths, progress=False, **answering.predict_options(self.run))
            by_path = {str(p.path): p for p in predictions}
            why = {str(p.path): p.reason for p in problems}
            answers: list[dict | UploadRefused] = []
            for path, request in zip(paths, requests):
                found = by_path.get(str(path))
                if found is None:
                    answers.append(UploadRefused(422, f"image could not be read: {why.get(str(path), 'no prediction')}"))
                    continue
                answer = {"prediction": answering.to_json(self.run, found)}
                if request.picture:
                    answer["picture_png_base64"] = _b64(answering.picture(self.run, found, path))
                if request.mask and (mask := mask_png(found)) is not None:
                    answer["mask_png_base64"] = _b64(mask)
                answers.append(answer)
            return answers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
