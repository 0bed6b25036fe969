"""An exported run on disk: the ONNX graph, its sidecar JSON and its arrays, and how to run them without PyTorch.

The sidecar (``<graph>.json``) holds everything needed to go from an image file to a decision: how the file is
decoded, resized and normalised, what the graph's outputs are, and the task's decision rule (temperature,
thresholds, class names). Parts that are not in the graph (e.g. the unlike-training Gaussians, a memory bank)
are arrays in ``<graph>.arrays.safetensors`` (never pickle). :class:`Bundle` reads only these files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.box_transforms import RESIZE_MODES
from ..data.images import read_image
from ..errors import CheckpointError
from ..files import read_json, write_json

FORMAT = "vislearn-export/1"
DECODE = ("Pillow; EXIF orientation applied; alpha composited over white; 16-bit and float images stretched from "
          "their type's range to 8 bits; grey, palette and CMYK converted to 3-channel RGB")
INTERPOLATIONS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def preprocessing_entry(pre, resize: bool = True) -> dict:
    """The sidecar's ``preprocessing``: file -> (3, S, S) float32 model input, as the run's ``eval_transform`` does it."""
    return {"decode": DECODE, "resize": resize, "size": [pre.image_size, pre.image_size], "interpolation": pre.interpolation,
            "resize_library": "Pillow (antialiased)", "scale": "divide by 255", "mean": list(pre.mean), "std": list(pre.std),
            "layout": "RGB, channels first: (B, 3, H, W) float32"}


def model_input(path: str | Path, pre: dict) -> np.ndarray:
    """(3, H, W) float32 network input of one image file, following the sidecar's ``preprocessing`` only.

    H, W: the sidecar's size when it resizes, else the file's own. Raises ImageReadError for unreadable files.
    """
    return model_input_and_size(path, pre)[0]


def model_input_and_size(path: str | Path, pre: dict) -> tuple[np.ndarray, tuple[int, int]]:
    """(:func:`model_input`, the file's (width, height) as decoded)."""
    image = read_image(path)
    width_height = image.size
    if pre["resize"] and pre.get("resize_mode", "stretch") == "letterbox":  # detect runs: aspect kept, mean-coloured padding
        image = letterboxed(image, int(pre["size"][0]), pre)
    elif pre["resize"]:
        image = image.resize((int(pre["size"][1]), int(pre["size"][0])), INTERPOLATIONS[pre["interpolation"]])
    pixels_hw3 = np.asarray(image, dtype=np.float32) / np.float32(255)
    mean, std = np.asarray(pre["mean"], np.float32), np.asarray(pre["std"], np.float32)
    return ((pixels_hw3 - mean) / std).transpose(2, 0, 1).copy(), width_height


def letterboxed(image: Image.Image, size: int, pre: dict) -> Image.Image:
    """The picture's longer side resized to ``size``, centred on a ``size`` square of the mean colour (zeros once normalised)."""
    fit = RESIZE_MODES.get("letterbox")(image.width, image.height, size)
    canvas = Image.new("RGB", (size, size), tuple(int(round(255 * m)) for m in pre["mean"]))
    canvas.paste(image.resize(fit.resized_wh, INTERPOLATIONS[pre["interpolation"]]), fit.pad_xy)
    return canvas


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> str | None:
    """Arrays of the decision rule beside the graph (safetensors); returns the file name for the sidecar."""
    if not arrays:
        return None
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))
    return path.name


def write_sidecar(graph: Path, sidecar: dict) -> Path:
    path = graph.with_suffix(".json")
    write_json(path, sidecar)
    return path


@dataclass
class Bundle:
    """An export read back: ``sidecar`` (dict), ``arrays`` (name -> ndarray) and an ONNX Runtime session."""

    folder: Path
    sidecar: dict
    arrays: dict[str, np.ndarray]
    session: object

    @classmethod
    def load(cls, graph: Path, fmt: str = "onnx", threads: int | None = None) -> Bundle:
        """The export whose ONNX file is ``graph``, run in the runtime of ``fmt`` (see :mod:`vislearn.export.runtimes`)."""
        from safetensors.numpy import load_file

        from .runtimes import RUNTIMES

        sidecar_path = graph.with_suffix(".json")
        if not graph.is_file() or not sidecar_path.is_file():
            raise CheckpointError(f"{graph}: an export needs the graph and its sidecar {sidecar_path.name}")
        sidecar = read_json(sidecar_path)
        if sidecar.get("format") != FORMAT:
            raise CheckpointError(f"{sidecar_path}: not a {FORMAT} sidecar")
        arrays = load_file(str(graph.parent / sidecar["arrays"])) if sidecar.get("arrays") else {}
        return cls(graph.parent, sidecar, arrays, RUNTIMES.get(fmt).session(graph, threads))

    @property
    def task(self) -> dict:
        """The sidecar's task section (decision rule)."""
        return self.sidecar[self.sidecar["task"]]

    def run(self, inputs_bchw: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs for a batch; a graph exported for one image is run image by image."""
        if self.sidecar["dynamic_batch"]:
            return self.session.run(None, {"images": inputs_bchw})
        per_image = [self.session.run(None, {"images": inputs_bchw[i:i + 1]}) for i in range(len(inputs_bchw))]
        return [np.concatenate(parts) for parts in zip(*per_image)]


def read_inputs(paths: list[str], pre: dict) -> tuple[list[str], list[np.ndarray]]:
    """(readable paths, their (3, H, W) inputs): files that cannot be read are left out, as ``predict`` leaves them out."""
    from ..errors import ImageReadError

    kept, inputs = [], []
    for path in paths:
        try:
            inputs.append(model_input(path, pre))
        except ImageReadError:
            continue
        kept.append(path)
    return kept, inputs
