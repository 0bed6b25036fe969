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


MAX_CANDIDATES = 65_536  # patches the greedy search looks at: 256 px x 240 images (246k) -> 4x faster picks


def greedy_coreset(features_nd: torch.Tensor, count: int, dims: int = 128, seed: int = 0,
                   max_candidates: int = MAX_CANDIDATES) -> torch.Tensor:
    """Indices (count,) into ``features_nd`` (N, D) of a greedy k-centre coreset: each pick is the point farthest
    from all earlier picks.

    Distances are computed on a random projection to ``dims``; one pick costs one (1, dims) @ (dims, N)
    product, using |p - c|^2 = |p|^2 - 2 p.c + |c|^2 with the squared norms computed once. Above
    ``max_candidates`` patches the picks come from a random subset of that many: neighbouring patches of an
    image share most of their 3x3-pooled features, so the subset still covers them, and a pick costs N / subset less.
    """
    n = features_nd.shape[0]
    if count >= n:
        return torch.arange(n)
    if n > max_candidates > count:
        subset = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_candidates]
        return subset[greedy_coreset(features_nd[subset], count, dims, seed, max_candidates)]
    points = random_projection(features_nd, dims, seed)
    norms = (points * points).sum(dim=1)
    # (dims, N) layout: the per-pick (1, dims) @ (dims, N) product reads memory in order, 2.6x faster on CPU
    # than (N, dims) @ (dims,) at 246k x 128 (6.5 vs 16.7 ms a pick)
    points_dn = points.T.contiguous()
    nearest = torch.full((n,), float("inf"))
    pick = int(torch.randint(n, (1,), generator=torch.Generator().manual_seed(seed)))
    return _greedy_picks(points_dn, norms, nearest, pick, count)


def _greedy_picks(points_dn: torch.Tensor, norms: torch.Tensor, nearest: torch.Tensor, pick: int, count: int) -> torch.Tensor:
    """``count`` k-centre picks (indices) starting at ``pick``; ``nearest`` (N,): each point's squared distance to what
    is already covered (inf: nothing), updated in place."""
    picks = torch.empty(count, dtype=torch.long)
    for i in range(count):
        picks[i] = pick
        distances = torch.addmm((norms + norms[pick])[None], points_dn[:, pick][None], points_dn, alpha=-2.0)[0]
        torch.minimum(nearest, distances, out=nearest)
        pick = int(torch.argmax(nearest))
    return picks


def coreset_beyond(bank_md: torch.Tensor, new_nd: torch.Tensor, count: int, dims: int = 128, seed: int = 0,
                   chunk: int = 4096) -> torch.Tensor:
    """Indices (<= count,) into ``new_nd`` (N, D) of a greedy k-centre coreset that starts from the bank ``bank_md``
    (M, D): the first pick is the new vector farthest from every bank vector, each next one the farthest from the bank
    and the earlier picks, so the picks are what the bank does not cover yet. Same projection as :func:`greedy_coreset`.
    """
    count = min(count, len(new_nd))
    if count <= 0:
        return torch.empty(0, dtype=torch.long)
    points, bank = random_projection(new_nd, dims, seed), random_projection(bank_md, dims, seed)
    nearest = torch.cat([torch.cdist(part, bank).amin(dim=1) ** 2 for part in points.split(chunk)])
    norms = (points * points).sum(dim=1)
    return _greedy_picks(points.T.contiguous(), norms, nearest, int(torch.argmax(nearest)), count)


# ~1.5 % of 240 images' patches at 256 px (PatchCore uses 1 % on MVTec): scoring searches the whole bank for every
# patch, so its size sets the search time (4,096 vectors: 2-3x faster than 10,000, measured on 2 shared cores)
MAX_CORESET = 4_096


def coreset_size(n_patches: int, dims: int, max_memory_mb: float, fraction: float = 0.1, most: int = MAX_CORESET) -> int:
    """How many float32 patch vectors of ``dims`` fit ``max_memory_mb``, at most ``fraction`` of the patches and ``most``."""
    fits = int(max_memory_mb * 2**20 // (4 * dims))
    return max(1, min(n_patches, fits, int(round(n_patches * fraction)), most))
