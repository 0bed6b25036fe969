"""The convolutional front of defect scoring: every pass over a batch's pixels (the backbone's stages, the pixel
Gaussian, the student's error) in one graph, run by ONNX Runtime when it is installed and agrees, else by PyTorch.

Measured at 250 px, 8 images a batch, one thread on the shared 2-core machine (CPU ms per image): Lite0 to stride 16
+ student + teacher + pixel Gaussian 129 in PyTorch (channels_last), 63 in ONNX Runtime, same maps to 1e-4.
The backbone stops at the deepest stage used: PyTorch ends its pass there; the exported graph never holds the rest
(nodes whose outputs nothing uses are dropped on export).
"""
from __future__ import annotations

import io
import warnings
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..engine.predict import cpu_session
from ..explain.hooks import capture
from ..registry import Registry
from .features import stage_maps
from .slices import in_slices

# ONNX Runtime's maps must match PyTorch's on the first batch to within this (relative to the map's largest value),
# else scoring falls back to PyTorch: a wrong fast answer is worse than a slow right one
AGREEMENT = 1e-3


class ConvFront(nn.Module):
    """images (B, 3, H, W) -> (*stage maps [(B, C_i, h_i, w_i)], *head maps [(B, h_k, w_k)]).

    ``heads``: callables images -> map (the pixel Gaussian's distance map, the student's error); ``owners``: the
    modules whose weights the heads use, registered so that an export holds them as weights. Always in eval mode:
    an export restores the mode it found, and a training-mode backbone would move its batch-norm statistics.
    """

    def __init__(self, backbone: nn.Module, stages: list[str], heads: list[Callable[[torch.Tensor], torch.Tensor]],
                 owners: tuple[nn.Module, ...] = ()):
        super().__init__()
        self.backbone, self.stages, self.heads = backbone, list(stages), list(heads)
        self.owners = nn.ModuleList(owners)
        self.eval()

    def forward(self, images_bchw: torch.Tensor, stop_early: bool = False) -> tuple[torch.Tensor, ...]:
        if stop_early:  # PyTorch: a hook ends the pass at the deepest stage
            maps = stage_maps(self.backbone, images_bchw, self.stages)
        else:  # traced: the stages past the deepest are dropped from the graph as unused
            with capture(self.backbone, self.stages) as seen:
                self.backbone.forward_features(images_bchw)
            maps = [seen.activations[name].float() for name in self.stages]
        return (*maps, *(head(images_bchw) for head in self.heads))


BACKENDS: Registry = Registry("scoring front backend")


@BACKENDS.register("torch")
def torch_front(front: ConvFront, example_bchw: torch.Tensor) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    @torch.no_grad()
    def run(images_bchw: torch.Tensor) -> list[torch.Tensor]:
        return list(front(images_bchw, stop_early=True))

    return run


@BACKENDS.register("onnxruntime")
def onnxruntime_front(front: ConvFront, example_bchw: torch.Tensor) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """The front exported to ONNX (batch, height and width left free) and run by ONNX Runtime on the CPU, with as many
    threads as PyTorch uses. Raises ImportError without onnxruntime."""
    import onnxruntime  # noqa: F401  (ImportError before the export when it is missing)

    graph = io.BytesIO()
    outputs = [f"map{i}" for i in range(len(front.stages) + len(front.heads))]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(front, (example_bchw[:1],), graph, input_names=["images"], output_names=outputs, dynamo=False,
                          dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, **{o: {0: "batch"} for o in outputs}})
    return SlicedSession(graph.getvalue(), torch.get_num_threads())


class SlicedSession:
    """An ONNX Runtime graph run on ``threads`` cores as that many slices of the batch at once, one thread each
    (:func:`~vislearn.anomaly.slices.in_slices`); a batch of fewer images than ``threads`` runs whole, parallel within
    operators. ``__call__``: images (B, 3, H, W) -> the graph's outputs, each (B, ...), the same maps as one whole-batch
    run (each image's pass is its own)."""

    def __init__(self, graph: bytes, threads: int):
        self.threads = max(1, threads)
        self.narrow = cpu_session(graph, threads=1)
        self.wide = cpu_session(graph, threads=self.threads) if self.threads > 1 else self.narrow
        self.how = f"{self.threads} image slices at once, one thread each" if self.threads > 1 else "one thread"

    def __call__(self, images_bchw: torch.Tensor) -> list[torch.Tensor]:
        images = images_bchw.float().contiguous().numpy()
        if len(images) < self.threads:
            found = self.wide.run(None, {"images": images})
        else:
            slices = in_slices(lambda part: self.narrow.run(None, {"images": part}), images, self.threads)
            found = [np.concatenate(parts) for parts in zip(*slices)]
        return [torch.from_numpy(m) for m in found]


def _disagreement(fast: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """Largest difference between two runs' maps, relative to each reference map's largest magnitude."""
    return max(float((f.detach() - r).abs().max() / r.abs().max().clamp_min(1e-12)) for f, r in zip(fast, reference))


class Front:
    """A :class:`ConvFront` run by the first backend of ``prefer`` that builds and agrees with PyTorch on the first
    batch; ``decision`` says which one ran and why. Inside a trace (ONNX export of a whole run) it is plain PyTorch."""

    def __init__(self, module: ConvFront, prefer: tuple[str, ...] = ("onnxruntime", "torch")):
        self.module, self.prefer = module, prefer
        self.backend: str | None = None
        self.decision = "not run yet"
        self._run: Callable[[torch.Tensor], list[torch.Tensor]] | None = None

    def __call__(self, images_bchw: torch.Tensor) -> list[torch.Tensor]:
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return list(self.module(images_bchw, stop_early=False))
        if self._run is None:
            self._choose(images_bchw)
        return self._run(images_bchw)

    def _choose(self, images_bchw: torch.Tensor) -> None:
        reference = torch_front(self.module, images_bchw)(images_bchw[:2])
        skipped = []
        for name in self.prefer:
            try:
                run = BACKENDS.get(name)(self.module, images_bchw)
                gap = _disagreement(run(images_bchw[:2]), reference)
            except ImportError:
                skipped.append(f"{name}: not installed")
                continue
            except Exception as error:  # a backend that cannot run this front (an operator missing) steps aside
                skipped.append(f"{name}: {type(error).__name__}: {(str(error).splitlines() or [''])[0][:120]}")
                continue
            if gap > AGREEMENT:
                skipped.append(f"{name}: maps differ from PyTorch's by {gap:.1e} (> {AGREEMENT:.0e})")
                continue
            self.backend, self._run = name, run
            heads = len(self.module.heads)
            self.decision = f"pass over the pixels (backbone to {self.module.stages[-1]}" + (f", {heads} other map(s)" if heads else "") \
                + f") run by {name}" + (f" ({run.how})" if getattr(run, "how", "") else "") + (f"; not by {'; '.join(skipped)}" if skipped else "")
            return
        raise RuntimeError("no scoring front backend could run: " + "; ".join(skipped))
