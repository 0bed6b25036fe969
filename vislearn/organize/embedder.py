"""What every embedder is (:class:`Embedder`) and gives (:class:`Embedded`); the registry of embedders by name is
:mod:`vislearn.organize.embedders`, whose openclip/self-supervised builders import this module."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

TOP_K = 5


class Embedded(NamedTuple):
    embedding_nd: torch.Tensor  # (B, D) float32, unit length
    top5_index: torch.Tensor  # (B, 5) long: ImageNet classes (-1 when the embedder has no classifier)
    top5_prob: torch.Tensor  # (B, 5) float32


@dataclass
class Embedder:
    """What the store and search need from any embedder; ``key`` changes whenever the vectors would."""

    name: str
    key: str
    model: nn.Module  # (B, 3, H, W) -> (B, D + C): embedding then C class logits (C may be 0)
    dim: int
    image_size: int
    mean: tuple
    std: tuple
    class_names: list[str] = field(default_factory=list)
    embed_text: Callable[[list[str]], torch.Tensor] | None = None  # texts -> (Q, D) unit vectors
    onnx_ok: bool = True
    pooled_dim: int = 0  # the embedding's last ``pooled_dim`` columns are the backbone's plain pooled features (0: all)
    parts: tuple[tuple[str, int], ...] = ()  # (layer name, width) of each part of the embedding, in order (empty: one part)

    def split(self, outputs: torch.Tensor) -> Embedded:
        embedding = outputs[:, :self.dim].float()
        if not self.class_names:
            n = len(outputs)
            return Embedded(embedding, torch.full((n, TOP_K), -1, dtype=torch.long), torch.zeros(n, TOP_K))
        prob, index = outputs[:, self.dim:].float().softmax(1).topk(TOP_K, dim=1)
        return Embedded(embedding, index, prob)


def l2(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=1, eps=1e-9)
