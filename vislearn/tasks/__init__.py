"""Tasks by name. Each ``<name>_task.py`` module defines one :class:`~vislearn.tasks.base.Task` object and registers it
in ``TASKS``; importing them here is all it takes to offer a task to the API and the command line."""
from . import classify_task, defects_task, detect_task, segment_task  # noqa: F401  (each registers its task)
from .base import TASKS, Flag, FlagGroup, Task, TrainFlag, TrainResult

__all__ = ["TASKS", "Flag", "FlagGroup", "Task", "TrainFlag", "TrainResult"]
