"""What the API and the command line call on a task, and the registry that finds a task by name.

A :class:`TaskEntry` gathers one task's functions from its modules (``tasks/__init__.py`` registers them), so no
task module imports the modules that present it (CLI, outputs) and nothing looks a function up by its name.
It is the first step towards the typed ``Task`` protocol of issue 14.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..registry import Registry

# (args: argparse.Namespace, log: Callable[[str], None]) -> the JSON-able answer of `vislearn VERB RUN ... --json`
CliCommand = Callable[..., dict]


@dataclass(frozen=True)
class TaskEntry:
    """One task's entry points.

    train(config, run_dir, resume, log, progress) -> dict with at least "model" and "config"
    evaluate(run, data, out_dir, refer_below, progress) -> metrics dict (also writes its pictures to out_dir)
    summary_keys: the metrics ``vislearn train TASK --json`` prints
    finish(run_dir, train_result, log): the task's own explanations and report; None: the classification ones (api.finish)
    commands: CLI verb ("eval", "predict", "explain") -> CliCommand; a verb missing here does not apply to the task
    """

    train: Callable[..., dict]
    evaluate: Callable[..., dict]
    summary_keys: tuple[str, ...]
    finish: Callable[..., None] | None = None
    commands: Mapping[str, CliCommand] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "commands", MappingProxyType(dict(self.commands)))


TASKS: Registry[TaskEntry] = Registry("task")
