"""Greedy (k-centre) coreset: a few patch features that cover all the others, picked fast."""
from __future__ import annotations

import torch


def random_projection(features_nd: torch.Tensor, dims: int = 128, seed: int = 0) -> torch.Tensor:
    """(N, D) -> (N, min(D, dims)) by a fixed Gaussian projection; distances are kept up to a few %."""
    n, d = features_nd.shape
    if d <= dims:
        return features_nd.float()
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(d, dims, generator=generator) / dims**0.5
    return features_nd.float() @ projection


def greedy_coreset(features_nd: torch.Tensor, count: int, dims: int = 128, seed: int = 0, chunk: int = 65536) -> torch.Tensor:
    """Indices (count,) of a greedy k-centre coreset: each pick is the point farthest from all earlier picks.

    Distances are computed on a random projection to ``dims`` and updated in chunks of torch ops,
    so one pick costs one (N, dims) pass.
    """
    n = features_nd.shape[0]
    if count >= n:
        return torch.arange(n)
    points = random_projection(features_nd, dims, seed)
    start = int(torch.randint(n, (1,), generator=torch.Generator().manual_seed(seed)))
    nearest = torch.full((n,), float("inf"))
    picks = torch.empty(count, dtype=torch.long)
    pick = start
    for i in range(count):
        picks[i] = pick
        centre = points[pick]
        for lo in range(0, n, chunk):
            d = ((points[lo:lo + chunk] - centre) ** 2).sum(dim=1)
            torch.minimum(nearest[lo:lo + chunk], d, out=nearest[lo:lo + chunk])
        pick = int(torch.argmax(nearest))
    return picks


def coreset_size(n_patches: int, dims: int, max_memory_mb: float, fraction: float = 0.1) -> int:
    """How many float32 patch vectors of ``dims`` fit ``max_memory_mb``, and at most ``fraction`` of the patches."""
    fits = int(max_memory_mb * 2**20 // (4 * dims))
    return max(1, min(n_patches, fits, int(round(n_patches * fraction))))
