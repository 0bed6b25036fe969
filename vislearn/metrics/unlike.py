"""How unlike the training images an image's features are: Mahalanobis distance to the nearest class mean.

The score that the class Gaussians fitted in :mod:`vislearn.anomaly.class_gaussian` give, here below both the
fitting and the referral rule that reads it (:mod:`vislearn.metrics.referral`). Features are power-normalised
first (signed square root, then unit length), as in image retrieval: it evens out a few dominant channels and the
overall activation scale.
"""
from __future__ import annotations

import torch


def normalise(features_nd: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, D): signed square root, then L2 normalisation of each row."""
    rooted = features_nd.sign() * features_nd.abs().sqrt()
    return torch.nn.functional.normalize(rooted, dim=1)


def unlike_training_score(features_nd: torch.Tensor, means_kd: torch.Tensor, precision_dd: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N,) Mahalanobis distance to the nearest class mean (larger: less like the training images)."""
    centred = normalise(features_nd.float())[:, None, :] - means_kd[None]  # (N, K, D)
    # (N, K, D) @ (D, D), then a row-wise dot: torch.einsum("nkd,de,nke->nk") took ~26 ms for one image (a poor order)
    squared = ((centred @ precision_dd) * centred).sum(dim=-1)
    return squared.clamp_min(0).min(dim=1).values.sqrt()
