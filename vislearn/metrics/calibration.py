"""Temperature scaling (Guo et al. 2017): one scalar T fitted on validation logits by NLL."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The T > 0 minimising NLL of ``softmax(logits / T)``; logits (N, K), labels (N,)."""
    # clones: the inputs may be inference-mode tensors, which autograd refuses
    logits, labels = logits.detach().float().clone(), labels.clone()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp())
    return min(max(t, 0.05), 20.0)


def calibrated_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return F.softmax(logits.float() / temperature, dim=1)
