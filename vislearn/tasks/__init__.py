"""Tasks by name. Each task is a package ``tasks/<name>/`` whose ``task.py`` defines one :class:`~vislearn.tasks.base.Task`
object and registers it in ``TASKS``; importing them here is all it takes to offer a task to the API and the command line."""
from .base import TASKS, Flag, FlagGroup, Task, TrainFlag, TrainResult
from .classify import task as classify_task  # noqa: F401  (each registers its task)
from .defects import task as defects_task  # noqa: F401
from .detect import task as detect_task  # noqa: F401
from .segment import task as segment_task  # noqa: F401

__all__ = ["TASKS", "Flag", "FlagGroup", "Task", "TrainFlag", "TrainResult"]
