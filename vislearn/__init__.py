"""vislearn: learn visual patterns from images — classify, explain, report.

    import vislearn
    vislearn.sample("digits", "data/digits")
    run = vislearn.train("classify", data="data/digits", model="tiny_cnn", weights="none", out="runs/digits")
    predictions, problems = vislearn.predict(run, ["data/digits/3"], max_error=0.01)   # any task's run: typed predictions
    result = vislearn.organize_photos("photos", "photos-index")       # groups, names, duplicates, report.html
    hits = vislearn.search_photos("photos-index", image="photos/cat.jpg", k=5)
"""
__version__ = "0.1.0"

import os as _os
from importlib import import_module as _import_module
from typing import TYPE_CHECKING

# OpenMP threads that spin while they wait take a small machine's cores from each other and from ONNX Runtime's
# threads. Measured on 2 cores: defect scoring 190 -> 72 ms per image, a 3-epoch tiny_cnn run on digits 56.7 -> 51.6 s
# (87 -> 64 CPU s). Set before torch loads its OpenMP runtime; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# What the package offers, imported on first use (PEP 562): ``import vislearn.organize.full_test`` in a worker process
# then costs 0.6 CPU s instead of 6 (the API pulls in every task, torchvision and torchmetrics).
_PUBLIC = {**{name: (".api", name) for name in (
    "ClassPrediction", "DefectPrediction", "Detections", "Prediction", "Run", "SegmentationMask",
    "evaluate", "explain", "load_run", "organize_photos", "predict", "search_photos", "train")},
    "sample": (".data.samples", "write_sample"), "VislearnError": (".errors", "VislearnError")}

if TYPE_CHECKING:
    from .api import (
        ClassPrediction,
        DefectPrediction,
        Detections,
        Prediction,
        Run,
        SegmentationMask,
        evaluate,
        explain,
        load_run,
        organize_photos,
        predict,
        search_photos,
        train,
    )
    from .data.samples import write_sample as sample
    from .errors import VislearnError


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'vislearn' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(_import_module(module, __name__), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = ["Prediction", "ClassPrediction", "DefectPrediction", "Detections", "SegmentationMask",
           "Run", "evaluate", "explain", "load_run", "organize_photos", "predict", "search_photos", "train", "sample",
           "VislearnError", "__version__"]
