"""What a task's exporter is asked for and what it writes (shared by every task's exporter)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GraphOptions:
    """How the graph is written: ``opset`` (None: torch's default) and a dynamic batch dimension (else one image)."""

    opset: int | None = None
    dynamic_batch: bool = False


@dataclass(frozen=True)
class Written:
    """A task's part of the sidecar: preprocessing, what each graph output holds, the decision rule, and its arrays."""

    preprocessing: dict
    outputs: dict[str, str]
    decision: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
