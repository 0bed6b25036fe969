"""Tasks by name. A task is a module that says what its model, loss, metrics and outputs are:
it defines ``train(config, run_dir, resume, log, progress)`` and ``evaluate(run, data, out_dir, ...)``
and hands an object with ``loss``/``new_meter``/``score_name`` to the shared engine.
"""
from ..registry import Registry
from . import classify, defects, detect, segment

TASKS: Registry = Registry("task")
TASKS.register("classify")(classify)
TASKS.register("defects")(defects)
TASKS.register("detect")(detect)
TASKS.register("segment")(segment)

__all__ = ["TASKS"]
