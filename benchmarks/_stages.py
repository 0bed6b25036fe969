"""Stage clocks for the real `vislearn train classify` data path: wall and CPU seconds of each stage, measured by
wrapping the functions the run calls (no copy of the pipeline, so what is timed is what runs).

    with StageClock() as clock:
        train(config, run_dir)        # vislearn.tasks.classify.train.train, unchanged
    clock.rows()                      # [(stage, calls, wall s, CPU s)]

CPU seconds are this process's (threads included) plus its finished children's (loader processes).
"""
from __future__ import annotations

import importlib
import resource
import time
from collections import defaultdict
from contextlib import ExitStack
from unittest import mock

# (stage name, module, attribute): the function whose calls make up the stage. Nested stages are subtracted from
# the stage around them ("listing" = read_labelled without its hashing), see INSIDE.
STAGES = [
    ("listing + header check", "vislearn.tasks.classify.train", "read_labelled"),
    ("hashing (duplicate check)", "vislearn.data.layouts", "_digest"),
    ("image size choice", "vislearn.tasks.classify.train", "image_size_choice"),
    ("model creation", "vislearn.tasks.classify.train", "create_model"),
    ("cache decision (headers)", "vislearn.tasks.classify.train", "decide"),
    ("content key (hashing)", "vislearn.data.decoded_store", "content_key"),
    ("decoded store read/write", "vislearn.data.decoded_store", "load"),
    ("decoded store read/write", "vislearn.data.decoded_store", "save"),
    ("decode into the cache", "vislearn.data.image_cache", "decode_once"),
    ("decode into the cache", "vislearn.tasks.classify.train", "decode_once"),  # before decode_or_reuse existed
    ("resize to input tensor", "vislearn.data.tensor_batches", "stack_at_size"),
    ("train steps", "vislearn.engine.train", "run_epoch"),  # "validation" when called without an optimizer
    ("checkpoint write", "vislearn.engine.train", "save_tensors"),
    ("history/report json", "vislearn.engine.train", "write_json"),
    ("calibration (after training)", "vislearn.tasks.classify.train", "fit_referral"),
    ("test evaluation (after training)", "vislearn.tasks.classify.train", "evaluate_split"),
]
INSIDE = {"hashing (duplicate check)": "listing + header check", "batch assembly + augmentation": "train steps",
          "validation batches": "validation"}
ORDER = ["listing + header check", "hashing (duplicate check)", "image size choice", "model creation",
         "cache decision (headers)", "content key (hashing)", "decoded store read/write", "decode into the cache",
         "resize to input tensor", "train steps",
         "batch assembly + augmentation", "validation", "validation batches", "checkpoint write", "history/report json",
         "calibration (after training)", "test evaluation (after training)"]


def _is_validation(args, kwargs) -> bool:
    """run_epoch(model, task, loader, device, precision, fmt, optimizer=None, ...) validates when optimizer is None."""
    return (args[6] if len(args) > 6 else kwargs.get("optimizer")) is None


def cpu_now() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class StageClock:
    """Context manager: while open, the calls of every STAGES function add to that stage's calls, wall and CPU s."""

    def __init__(self, stages=STAGES):
        self.stages = stages
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self._stack = ExitStack()

    def _add(self, name: str, wall: float, cpu: float, calls: int = 1) -> None:
        total = self.totals[name]
        total[0] += calls
        total[1] += time.perf_counter() - wall
        total[2] += cpu_now() - cpu

    def _timed(self, name: str, fn):
        def timed(*args, **kwargs):
            stage = "validation" if name == "train steps" and _is_validation(args, kwargs) else name
            wall, cpu = time.perf_counter(), cpu_now()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(stage, wall, cpu)
        return timed

    def _timed_batches(self, iterate):
        """TensorBatches.__iter__ with the time spent making each batch (indexing, augmentation, normalising)."""
        clock = self

        def batches(loader):
            stage = "batch assembly + augmentation" if loader.augment is not None else "validation batches"
            source = iterate(loader)
            while True:
                wall, cpu = time.perf_counter(), cpu_now()
                try:
                    batch = next(source)
                except StopIteration:
                    return
                finally:
                    clock._add(stage, wall, cpu, 0)
                yield batch
        return batches

    def __enter__(self) -> StageClock:
        for name, module, attribute in self.stages:
            try:
                target = importlib.import_module(module)
            except ImportError:  # an older vislearn (the "before" figures): a stage it does not have
                continue
            if not hasattr(target, attribute):
                continue
            self._stack.enter_context(mock.patch.object(target, attribute, self._timed(name, getattr(target, attribute))))
        from vislearn.data.tensor_batches import TensorBatches

        self._stack.enter_context(mock.patch.object(TensorBatches, "__iter__", self._timed_batches(TensorBatches.__iter__)))
        self.started = (time.perf_counter(), cpu_now())
        return self

    def __exit__(self, *exc) -> None:
        self.total = (time.perf_counter() - self.started[0], cpu_now() - self.started[1])
        self._stack.close()

    def rows(self) -> list[tuple[str, int, float, float]]:
        """[(stage, calls, wall s, CPU s)] in pipeline order, nested stages taken out of their parents, then the rest."""
        totals = {k: list(v) for k, v in self.totals.items()}
        for inner, outer in INSIDE.items():
            if inner in totals and outer in totals:
                totals[outer][1] -= totals[inner][1]
                totals[outer][2] -= totals[inner][2]
        rows = [(name, int(totals[name][0]), totals[name][1], totals[name][2]) for name in ORDER if name in totals]
        rest_wall = self.total[0] - sum(r[2] for r in rows)
        rest_cpu = self.total[1] - sum(r[3] for r in rows)
        return rows + [("everything else", 0, rest_wall, rest_cpu)]
