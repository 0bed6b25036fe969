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


def merge_gaussian(mean_d: torch.Tensor, precision_dd: torch.Tensor, fitted_images: int,
                   pooled_nd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian of ``fitted_images`` good images (mean (D,), precision (D, D), from :func:`fit_gaussian`) joined
    by N more (``pooled_nd`` (N, D)), each image weighing the same: the mixture of the fitted Gaussian and the new
    images' own, shrunk by Ledoit-Wolf as the fit was (a handful of images spans a handful of directions; unshrunk,
    new images like them stayed far in every other one). -> mean (D,), precision (D, D)."""
    n_old, n_new = float(fitted_images), len(pooled_nd)
    new = LedoitWolf().fit(pooled_nd.double().numpy())
    old_mean, old_cov = mean_d.double(), torch.linalg.inv(precision_dd.double())
    new_mean, new_cov = torch.from_numpy(new.location_), torch.from_numpy(new.covariance_)
    share = n_new / (n_old + n_new)
    mean = (1 - share) * old_mean + share * new_mean
    shift = new_mean - old_mean
    covariance = (1 - share) * old_cov + share * new_cov + share * (1 - share) * torch.outer(shift, shift)
    precision = torch.linalg.inv((covariance + covariance.T) / 2)
    return mean.float(), ((precision + precision.T) / 2).float()
