"""The one training loop, evaluation, prediction, checkpoints, devices and precision."""
from .checkpoint import load_tensors, read_json, save_tensors, write_json
from .device import autocast, default_workers, memory_format, pick_device, pick_precision
from .evaluate import collect_outputs
from .train import BEST, LAST, FitResult, fit

__all__ = [
    "load_tensors", "read_json", "save_tensors", "write_json", "autocast", "default_workers", "memory_format",
    "pick_device", "pick_precision", "collect_outputs", "BEST", "LAST", "FitResult", "fit",
]
