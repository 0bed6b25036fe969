"""Prediction backends by name: eager PyTorch (inference mode) or ONNX Runtime on an exported graph.

Each backend is built from a model and gives ``run(images_bchw: Tensor) -> outputs Tensor``.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..registry import Registry
from .device import autocast, memory_format, pick_device, pick_precision

BACKENDS: Registry = Registry("predict backend")
Runner = Callable[[torch.Tensor], torch.Tensor]


@BACKENDS.register("torch")
def torch_backend(model: nn.Module, device: str = "auto", precision: str = "auto", channels_last: bool | None = None, **_) -> Runner:
    dev = pick_device(device)
    prec = pick_precision(dev, precision)
    fmt = memory_format(dev, channels_last)
    model = model.eval().to(dev, memory_format=fmt)

    @torch.inference_mode()
    def run(images: torch.Tensor) -> torch.Tensor:
        with autocast(dev, prec):
            return model(images.to(dev, memory_format=fmt)).float().cpu()

    return run


def export_onnx(model: nn.Module, path: Path, image_size: int, opset: int | None = None, dynamic_batch: bool = True,
                output_names: tuple[str, ...] = ("outputs",), dynamo: bool = False) -> Path:
    """Export ``model`` (images (B, 3, S, S) -> ``output_names``) to ``path``; the batch dimension is dynamic unless
    ``dynamic_batch`` is False (then the graph takes one image). ``opset``: None is torch's default. ``dynamo``: the
    torch.export-based exporter, which covers more operators (e.g. quantile) than the TorchScript one."""
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.zeros(2 if dynamic_batch else 1, 3, image_size, image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.onnx")  # per process: Ray actors sharing a run folder export at the same time
    axes = {name: {0: "batch"} for name in ("images", *output_names)} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(tmp), input_names=["images"], output_names=list(output_names),
                          dynamic_axes=axes, opset_version=opset, dynamo=dynamo,
                          **({"verbose": False, "external_data": False} if dynamo else {}))
    tmp.replace(path)
    return path


def cpu_session(graph: str | Path | bytes, threads: int | None = None):
    """An ONNX Runtime session on the CPU for a graph file or its bytes: every graph optimisation, one batch at a time
    (parallel within operators), idle threads sleeping instead of spinning so that loader workers decode the next batch
    on the same cores. ``threads`` None: ONNX Runtime's default, one per physical core. Raises ImportError without
    onnxruntime."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(graph if isinstance(graph, bytes) else str(graph), options, providers=["CPUExecutionProvider"])


@BACKENDS.register("onnx")
def onnx_backend(model: nn.Module, image_size: int = 224, onnx_path: str | Path | None = None, threads: int | None = None, **_) -> Runner:
    import onnxruntime  # noqa: F401  (ImportError before any export when it is missing)

    if onnx_path:
        path = Path(onnx_path)
        if not path.exists():
            export_onnx(model, path, image_size)
        graph: str | bytes = str(path)
    else:
        # No cache without a path: a file keyed by id(model) answered with stale weights once the model
        # changed or another model reused the id.
        with tempfile.TemporaryDirectory(prefix="vislearn-onnx-") as folder:
            graph = export_onnx(model, Path(folder) / "model.onnx", image_size).read_bytes()
    session = cpu_session(graph, threads)

    def run(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"images": images.contiguous().numpy()})[0])

    return run


def fastest_backend(model: nn.Module, image_size: int, candidates: dict[str, dict], batch: int = 16, repeats: int = 3) -> str:
    """Time each candidate backend on a dummy batch and return the fastest one's name.

    A candidate's time is its best of ``repeats`` runs after a warm-up run (the minimum is what the
    backend can do; slower runs are other processes' noise). Timing stops early for a candidate whose
    run already took twice the best time so far: it cannot win, and an eager model that is 5x slower
    than ONNX Runtime would otherwise spend most of the autotuning.
    """
    example = torch.randn(batch, 3, image_size, image_size)
    timings: dict[str, float] = {}
    for name, options in candidates.items():
        try:
            run = BACKENDS.get(name)(model, image_size=image_size, **options)
            run(example)
            bar = 2 * min(timings.values(), default=math.inf)
            for _ in range(repeats):
                start = time.perf_counter()
                run(example)
                timings[name] = min(timings.get(name, math.inf), time.perf_counter() - start)
                if timings[name] > bar:
                    break
        except Exception:  # a backend that cannot run this model simply does not compete
            timings.pop(name, None)
    return min(timings, key=timings.get) if timings else "torch"
