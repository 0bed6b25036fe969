"""One exception type per user-facing failure; each names the file and the fix."""
from __future__ import annotations

from pathlib import Path


class VislearnError(Exception):
    """Base class: the CLI prints these as one clear line instead of a stack trace."""


class ImageReadError(VislearnError):
    """An image file could not be read as an image."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DataLayoutError(VislearnError):
    """A dataset folder or CSV does not have the layout vislearn expects."""


class WeightsUnavailableError(VislearnError):
    """Pretrained weights could not be found locally or downloaded."""


class CheckpointError(VislearnError):
    """A run folder or checkpoint is missing, incomplete or unsafe to load."""


class UnknownNameError(VislearnError, KeyError):
    """A registry lookup for a name that was never registered."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr with quotes
        return str(self.args[0])


class CalibrationError(VislearnError):
    """A referral guarantee cannot be given: too few calibration images, a bad rate, or a run without calibration data."""


class DistributedSetupError(VislearnError):
    """Training in several processes cannot run as asked (a global batch that does not divide, SyncBN on CPU, a task without it)."""
