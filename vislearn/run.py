"""A finished (or interrupted) run folder of any task: its config, class names, preprocessing and files.

What a task does with the folder (load its model, refer, predict) is the task's: see its Task object in ``TASKS``
(for classification, :mod:`vislearn.tasks.classify.run`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import TrainConfig
from .engine import read_json
from .errors import CheckpointError
from .models import Preprocessing
from .predictions import ClassPrediction as Prediction  # noqa: F401  (the name callers have always imported from here)


@dataclass
class Run:
    dir: Path
    config: TrainConfig
    class_names: list[str]
    preprocessing: Preprocessing
    _kept: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _keeping: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        run_dir = Path(run_dir)
        if not (run_dir / "config.json").is_file():
            raise CheckpointError(f"{run_dir}: not a vislearn run folder (no config.json)")
        saved = read_json(run_dir / "config.json")
        class_names = saved.pop("class_names")
        pre = Preprocessing.from_dict(saved.pop("preprocessing"))
        saved.pop("runtime", None)  # where it trained (device, precision): for the report, not for the config
        return cls(run_dir, TrainConfig.from_dict(saved), class_names, pre)

    @property
    def metrics(self) -> dict | None:
        path = self.dir / "metrics.json"
        return read_json(path) if path.exists() else None

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

    def kept(self, key, make: Callable[[], Any]) -> Any:
        """``make()``, built once per key for this Run object and kept: a model a server (``vislearn serve``) calls
        for every batch is loaded once, not per call. A new :meth:`load` of the folder starts afresh."""
        with self._keeping:  # two serving threads asking at once build it once
            if key not in self._kept:
                self._kept[key] = make()
            return self._kept[key]
