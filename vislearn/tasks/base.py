"""What the API and the command line call on a task: the :class:`Task` protocol, and the registry that finds a task by name.

A task is one object (``tasks/<name>_task.py``) registered in ``TASKS``; the API and the CLI only ever call the
methods below, so nothing looks a function up by its name and no task module imports the modules that present it.
A new task is one module with one such object, registered with ``TASKS.register("name")(MyTask())``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..config import TrainConfig
from ..data import Problem
from ..registry import Registry
from ..run import Run

Log = Callable[[str], None]
# (args: argparse.Namespace, log) -> the JSON-able answer of `vislearn VERB RUN ... --json`
CliCommand = Callable[..., dict]


@dataclass(frozen=True)
class TrainFlag:
    """One ``vislearn train`` flag a task declares: ``--max-false-alarm 0.02`` sets ``config.extra["max_false_alarm"]``.

    ``config_field``: True when ``dest`` is a :class:`TrainConfig` field (always passed, its default included);
    False: an ``extra`` option, passed only when the user gave it. ``argparse`` holds ``add_argument``'s keywords.
    """

    flag: str
    dest: str
    config_field: bool = False
    argparse: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    """One flag a task adds to ``vislearn eval``, ``predict`` or ``explain``: ``--conf 0.4`` gives its command
    ``args.conf == 0.4`` (None when not given, unless ``argparse`` holds a default). ``argparse``: ``add_argument``'s keywords."""

    flag: str
    dest: str
    argparse: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagGroup:
    """A task's flags of one CLI verb, shown under one heading of ``vislearn VERB --help``."""

    title: str
    description: str
    flags: tuple[TrainFlag | Flag, ...] = ()


@dataclass(frozen=True)
class TrainResult:
    """What a task's ``train`` hands to its ``finish``.

    config: the configuration as trained (image size, method defaults filled in)
    metrics: the held-out split's metrics (None where the data had none to score)
    model: the trained network, in eval mode (None for tasks fitted without one, e.g. a defects memory bank)
    details: the task's own extras for ``finish`` (data, preprocessing, detector, ...)
    """

    config: TrainConfig
    metrics: dict | None
    model: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, result: dict) -> TrainResult:
        """From the dict a task module's ``train`` returns (keys "config", "metrics", "model" and its extras)."""
        return cls(result["config"], result.get("metrics"), result.get("model"), result)


def train_returning_result(train: Callable[..., dict]) -> Callable[..., TrainResult]:
    """A task module's ``train`` (returning a dict) as a Task's ``train`` method (returning a :class:`TrainResult`)."""

    def typed(config: TrainConfig, run_dir: Path, resume: bool, log: Log, progress: bool) -> TrainResult:
        return TrainResult.from_dict(train(config, run_dir, resume=resume, log=log, progress=progress))

    return staticmethod(typed)


def finish_with_details(finish: Callable[[Path, dict, Log], None]) -> Callable[..., None]:
    """A task module's ``finish(run_dir, result dict, log)`` as a Task's ``finish`` method."""

    def typed(run_dir: Path, result: TrainResult, log: Log) -> None:
        finish(run_dir, dict(result.details), log)

    return staticmethod(typed)


@runtime_checkable
class Task(Protocol):
    """One task (classify, defects, detect, segment, ...): every verb of the API and the CLI goes through these.

    summary_keys: the metrics ``vislearn train TASK --json`` prints
    train_flags: the task's own ``vislearn train`` flags (None: it has none)
    commands: CLI verb ("eval", "predict", "explain") -> CliCommand; a verb missing here does not apply to the task

    verb_flags: CLI verb -> the task's own flags of that verb (a :class:`FlagGroup` of :class:`Flag`); empty when
    the task adds no flag to any verb.

    Optional: ``prediction_table``,
    (run, predictions) -> (header, rows) of ``vislearn predict``'s CSV, read through :func:`prediction_table`: what
    ``--engine ray`` writes into its shards; a task without one cannot predict on Ray.
    ``trains_in_processes``: True when its ``train`` runs under torchrun (every process trains through the engine's
    ``fit``; only rank 0 writes files or evaluates), read through :func:`trains_in_processes`; default False.
    """

    summary_keys: tuple[str, ...]
    train_flags: FlagGroup | None
    commands: Mapping[str, CliCommand]
    verb_flags: Mapping[str, FlagGroup]

    def train(self, config: TrainConfig, run_dir: Path, resume: bool, log: Log, progress: bool) -> TrainResult:
        """Read ``config.data``, fit, score the held-out split; writes config.json, weights and metrics.json in ``run_dir``."""

    def finish(self, run_dir: Path, result: TrainResult, log: Log) -> None:
        """The task's explanations and ``report.html`` for a freshly trained run."""

    def build(self, run: Run) -> Any:
        """The trained model of a run folder (an ``nn.Module`` in eval mode, or the task's fitted detector)."""

    def evaluate(self, run: Run, data: Path, out_dir: Path, refer_below: float | None, progress: bool) -> dict:
        """Metrics (scikit-learn/torchmetrics/pycocotools) on another labelled data set; writes them and pictures to ``out_dir``."""

    def predict(self, run: Run, images: Sequence[Path], progress: bool = True, **options) -> tuple[list, list[Problem]]:
        """One typed prediction per readable image (see :mod:`vislearn.tasks.predictions`) and the unreadable files."""

    def explain(self, run: Run, image: Path, out_dir: Path, method: str | None, target: str | None) -> dict:
        """Heatmaps of what drove the prediction on one image, written to ``out_dir``; returns what was written."""

    def explain_targets(self, run: Run) -> tuple[str, ...]:
        """What ``explain``'s ``target`` may name (the run's classes); () where the task cannot be explained."""


def trains_in_processes(task: Task) -> bool:
    """Whether ``task`` trains under torchrun (its optional ``trains_in_processes`` member; rank 0 alone writes files)."""
    return getattr(task, "trains_in_processes", False)


def verb_flags(task: Task, verb: str) -> FlagGroup | None:
    """The flags ``task`` adds to ``vislearn VERB`` (its ``verb_flags``), None where it adds none."""
    return task.verb_flags.get(verb)


def prediction_table(task: Task) -> Callable[..., tuple[list[str], list[list]]] | None:
    """The task's (run, predictions) -> (header, rows) of its predictions CSV, None where it declares none."""
    return getattr(task, "prediction_table", None)


TASKS: Registry[Task] = Registry("task")
