"""Reading, checking, transforming and batching images (file -> tensor)."""
from .dataset import Batch, ImageDataset, make_loader
from .images import MAX_PIXELS, read_image
from .layouts import LabelledData, Problem, Sample, read_labelled
from .samples import SAMPLES, write_sample
from .transforms import denormalize, eval_transform, train_transform

__all__ = [
    "Batch", "ImageDataset", "make_loader", "MAX_PIXELS", "read_image", "LabelledData", "Problem", "Sample",
    "read_labelled", "SAMPLES", "write_sample", "denormalize", "eval_transform", "train_transform",
]
