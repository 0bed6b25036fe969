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

# OpenMP threads that spin while they wait take a small machine's cores from each other and from ONNX Runtime's
# threads. Measured on 2 cores: defect scoring 190 -> 72 ms per image, a 3-epoch tiny_cnn run on digits 56.7 -> 51.6 s
# (87 -> 64 CPU s). Set before torch loads its OpenMP runtime; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
from .data.samples import write_sample as sample  # noqa: E402
from .errors import VislearnError  # noqa: E402

__all__ = ["Prediction", "ClassPrediction", "DefectPrediction", "Detections", "SegmentationMask",
           "Run", "evaluate", "explain", "load_run", "organize_photos", "predict", "search_photos", "train", "sample",
           "VislearnError", "__version__"]
