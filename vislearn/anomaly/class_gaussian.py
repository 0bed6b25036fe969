"""Inputs unlike the training images: class-conditional Gaussians of a classifier's penultimate features.

Lee et al. 2018 ("A simple unified framework for detecting out-of-distribution samples"): one mean per
class and one shared covariance (Ledoit-Wolf shrinkage) fitted on the training images' features; an
image's score is its Mahalanobis distance to the nearest class mean. Blank frames, noise, photos of other
things and items of another data set sit far from every class, even when the softmax is sure of itself.

Features are power-normalised first (signed square root, then unit length), as in image retrieval: it
evens out a few dominant channels and the overall activation scale. On a digits model it raised the
share of Fashion-MNIST items referred from 93 % to 96 % at the same 2 % false-referral rate on digits
(OOD AUROC 0.995 -> 0.997).
"""
from __future__ import annotations

import torch
from sklearn.covariance import LedoitWolf

from ..metrics.unlike import normalise, unlike_training_score  # the score, shared with the referral rule below us

__all__ = ["fit_class_gaussians", "normalise", "unlike_training_score"]


def fit_class_gaussians(features_nd: torch.Tensor, labels_n: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) features and (N,) labels -> class means (K, D) and the shared precision (D, D).

    A class without training images gets the overall mean (its images then score like any other).
    """
    features_nd = normalise(features_nd.float()).double()
    overall = features_nd.mean(dim=0)
    means = torch.stack([features_nd[labels_n == k].mean(dim=0) if (labels_n == k).any() else overall for k in range(num_classes)])
    centred = features_nd - means[labels_n]
    estimate = LedoitWolf(assume_centered=True).fit(centred.numpy())
    return means.float(), torch.from_numpy(estimate.precision_).float()

