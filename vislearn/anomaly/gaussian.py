"""Whole-image feature distribution: a Gaussian of pooled features fitted on good images, scored by Mahalanobis."""
from __future__ import annotations

import torch
from sklearn.covariance import LedoitWolf


def fit_gaussian(pooled_nd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) pooled features of good images -> mean (D,), precision (D, D) with Ledoit-Wolf shrinkage."""
    estimate = LedoitWolf().fit(pooled_nd.double().numpy())
    return torch.from_numpy(estimate.location_).float(), torch.from_numpy(estimate.precision_).float()


def mahalanobis(pooled_nd: torch.Tensor, mean_d: torch.Tensor, precision_dd: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N,) Mahalanobis distance to the fitted Gaussian."""
    centred = pooled_nd.float() - mean_d
    return ((centred @ precision_dd) * centred).sum(dim=1).clamp_min(0).sqrt()
