"""vislearn: learn visual patterns from images — classify, explain, report.

    import vislearn
    vislearn.sample("digits", "data/digits")
    run = vislearn.train("classify", data="data/digits", model="tiny_cnn", weights="none", out="runs/digits")
    predictions, problems = vislearn.predict(run, ["data/digits/3"], max_error=0.01)   # any task's run: typed predictions
    result = vislearn.organize_photos("photos", "photos-index")       # groups, names, duplicates, report.html
    hits = vislearn.search_photos("photos-index", image="photos/cat.jpg", k=5)
"""
__version__ = "0.1.0"

from .api import (  # noqa: E402
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
