"""The running mean loss every validation meter reports: weighted by images, kept on the batches' device."""
from __future__ import annotations

import torch


class MeanLoss:
    """``update(loss, n)`` with a batch's mean loss over ``n`` images; ``compute()`` the mean over all images.

    The sum stays a tensor on the loss's device, so a GPU never waits for it inside the loop; ``compute`` syncs once.
    """

    def __init__(self):
        self.total, self.count = None, 0

    def update(self, loss: torch.Tensor, n: int) -> None:
        weighted = loss.detach().float() * n
        self.total = weighted if self.total is None else self.total + weighted
        self.count += n

    def compute(self) -> float:
        """The mean; NaN before any image."""
        return float(self.total) / self.count if self.count else float("nan")
