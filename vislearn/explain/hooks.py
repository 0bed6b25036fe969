"""Scoped forward hooks: capture what named submodules output, and the gradients flowing back into it.

Every hook is removed when the ``with`` block ends, also when it ends with an exception.
Gradients are caught with tensor hooks on the captured outputs, so no module backward hook
is ever registered (those break on in-place ops: pytorch/pytorch#61519).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Captured:
    """What a forward (and backward) pass left behind, keyed by module name.

    ``activations[name]``: the module's output tensor, e.g. (B, C, h, w), still attached to the graph.
    ``gradients[name]``: d(whatever was back-propagated) / d(that output), same shape; filled by backward.
    """

    activations: dict[str, torch.Tensor] = field(default_factory=dict)
    gradients: dict[str, torch.Tensor] = field(default_factory=dict)


def _capture_hook(name: str, captured: Captured, gradients: bool):
    def hook(module: nn.Module, inputs, output) -> None:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"module {name!r} returns {type(output).__name__}, not a tensor: pick a module that outputs a feature map")
        captured.activations[name] = output
        if gradients and output.requires_grad:
            def keep_gradient(grad: torch.Tensor) -> None:
                captured.gradients[name] = grad

            output.register_hook(keep_gradient)

    return hook


@contextmanager
def capture(model: nn.Module, module_names: Sequence[str], gradients: bool = False) -> Iterator[Captured]:
    """``with capture(model, ["blocks.6"], gradients=True) as seen: model(x).sum().backward()``.

    Module names are those of ``model.get_submodule`` (e.g. ``feature_info[i]["module"]``).
    If a module runs twice in one forward, the last call wins. Gradients are only caught for
    outputs that require grad (not under ``torch.no_grad()``).
    """
    captured = Captured()
    handles = []
    try:
        for name in module_names:
            module = model.get_submodule(name)
            handles.append(module.register_forward_hook(_capture_hook(name, captured, gradients)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()
