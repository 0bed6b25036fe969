"""The runtimes an export runs in, by format name: each turns the written ONNX graph into ``run(None, feeds)``.

``onnx``: ONNX Runtime on the CPU, on ``model.onnx`` itself. ``openvino``: the graph converted once to OpenVINO's
IR (``model.xml`` + ``model.bin`` beside it) and compiled for the CPU; needs ``pip install openvino``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.predict import cpu_session
from ..errors import VislearnError
from ..registry import Registry

RUNTIMES: Registry = Registry("export format")


class _OnnxRuntime:
    @staticmethod
    def write(graph: Path) -> Path:
        return graph

    @staticmethod
    def session(graph: Path, threads: int | None = None):
        return cpu_session(graph, threads)


class _OpenVinoSession:
    """An OpenVINO compiled model answering ONNX Runtime's ``run(None, feeds) -> [outputs in graph order]``."""

    def __init__(self, compiled):
        self.compiled = compiled

    def run(self, _, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        results = self.compiled(feeds)
        return [np.asarray(results[port]) for port in self.compiled.outputs]


def _openvino():
    try:
        import openvino
    except ImportError:
        raise VislearnError("--format openvino needs OpenVINO: pip install openvino") from None
    return openvino


class _OpenVino:
    @staticmethod
    def write(graph: Path) -> Path:
        """model.xml + model.bin converted from ``graph`` (the ONNX file) beside it."""
        ov = _openvino()
        ir = graph.with_suffix(".xml")
        ov.save_model(ov.convert_model(str(graph)), str(ir), compress_to_fp16=False)  # fp16 weights: logits off by 1e-3
        return ir

    @staticmethod
    def session(graph: Path, threads: int | None = None):
        ov = _openvino()
        config = {"INFERENCE_NUM_THREADS": threads} if threads else {}
        # fp32 inference: the CPU plugin would otherwise pick bf16 on CPUs that have it, and measure that rounding
        config["INFERENCE_PRECISION_HINT"] = "f32"
        return _OpenVinoSession(ov.Core().compile_model(str(graph.with_suffix(".xml")), "CPU", config))


RUNTIMES.register("onnx")(_OnnxRuntime)
RUNTIMES.register("openvino")(_OpenVino)
