"""Temperature scaling (Guo et al. 2017) that cannot collapse: one scalar T fitted on calibration logits.

The fit is a MAP estimate: the summed NLL of ``softmax(logits / T)`` plus a weak Gaussian prior on
``log T`` centred on T = 1 (sd :data:`PRIOR_SD`). Two rules keep it honest when the data say little:

- **no sharpening without evidence**: a fit below T = 1 is only used when the calibration images hold
  at least :data:`MIN_ERRORS` misclassified images. With fewer (a perfectly classified validation split is
  the usual case) the NLL keeps falling as T shrinks, and a fitted T of 0.05 turns every remaining error
  into confidence 1.0. Then T = 1.
- **no bound as an answer**: a fit that runs to :data:`T_BOUNDS` is not an estimate; T = 1 is used instead
  (lower bound) or the bound is kept with a warning (upper bound: the model is near chance).

:func:`calibrate_temperature` returns what was decided and why, for the log and the report.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

MIN_ERRORS = 5
PRIOR_SD = 1.0  # on log T: T = 0.37 or 2.7 is one standard deviation away from 1
T_BOUNDS = (0.05, 20.0)


class Calibration(NamedTuple):
    temperature: float  # the T used
    fitted: float  # the MAP optimum before the rules
    rule: str  # "fitted" | "no sharpening without evidence" | "lower bound" | "upper bound" | "single class"
    reason: str  # one sentence for the log and the report
    images: int
    errors: int  # calibration images whose top-1 class is wrong


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200, prior_sd: float = PRIOR_SD) -> float:
    """The T in :data:`T_BOUNDS` maximising ``log p(labels | logits / T) + log prior(T)``; logits (N, K), labels (N,)."""
    # clones: the inputs may be inference-mode tensors, which autograd refuses
    logits, labels = logits.detach().float().clone(), labels.clone()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")
    low, high = (torch.tensor(b).log() for b in T_BOUNDS)

    def closure():
        optimizer.zero_grad()
        t = log_t.clamp(low, high).exp()
        loss = F.cross_entropy(logits / t, labels, reduction="sum") + log_t.square().sum() / (2 * prior_sd**2)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp())
    return min(max(t, T_BOUNDS[0]), T_BOUNDS[1])


def calibrate_temperature(logits: torch.Tensor, labels: torch.Tensor, min_errors: int = MIN_ERRORS) -> Calibration:
    """Fit T on calibration logits (N, K) and labels (N,), then apply the safety rules above."""
    n = len(labels)
    errors = int((logits.argmax(dim=1) != labels).sum())
    if n == 0:
        return Calibration(1.0, 1.0, "single class", "no calibration images: T = 1 (probabilities as the network gives them)", 0, 0)
    if len(labels.unique()) < 2:
        return Calibration(1.0, 1.0, "single class", "the calibration images hold a single class, which says nothing about "
                           "confusions between classes: T = 1", n, errors)
    fitted = fit_temperature(logits, labels)
    if fitted <= T_BOUNDS[0] * 1.01:
        return Calibration(1.0, fitted, "lower bound", f"the fit ran to its lower bound T = {T_BOUNDS[0]} ({errors} errors in {n} "
                           "images): not an estimate, T = 1 used instead", n, errors)
    if fitted >= T_BOUNDS[1] / 1.01:
        return Calibration(fitted, fitted, "upper bound", f"the fit ran to its upper bound T = {T_BOUNDS[1]}: the model is close to "
                           f"chance on the calibration images ({errors} errors in {n})", n, errors)
    if fitted < 1.0 and errors < min_errors:
        return Calibration(1.0, fitted, "no sharpening without evidence", f"only {errors} of {n} calibration images are misclassified "
                           f"(fewer than {min_errors}): too little evidence to sharpen probabilities (fit T = {fitted:.2f}), T = 1 used",
                           n, errors)
    return Calibration(fitted, fitted, "fitted", f"fitted on {n} calibration images with {errors} errors", n, errors)


def calibrated_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return F.softmax(logits.float() / temperature, dim=1)
