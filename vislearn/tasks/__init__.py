"""Tasks by name. Each task's modules say what its model, loss, metrics and outputs are; this file gathers their
entry points into one :class:`~vislearn.tasks.base.TaskEntry` per task (train, evaluate, finish, CLI commands).
"""
from . import classify, classify_cli, defects, defects_outputs, detect, detect_cli, detect_outputs, segment, segment_explain, segment_outputs
from .base import TASKS, TaskEntry

TASKS.register("classify")(TaskEntry(
    classify.train, classify.evaluate, classify_cli.SUMMARY_KEYS,
    commands={"eval": classify_cli.cli_eval, "predict": classify_cli.cli_predict, "explain": classify_cli.cli_explain}))
TASKS.register("defects")(TaskEntry(
    defects.train, defects_outputs.evaluate, defects.SUMMARY_KEYS, defects_outputs.finish,
    commands={"eval": defects_outputs.cli_eval, "predict": defects_outputs.cli_predict}))
TASKS.register("detect")(TaskEntry(
    detect.train, detect_outputs.evaluate, detect.SUMMARY_KEYS, detect_outputs.finish,
    commands={"eval": detect_cli.cli_eval, "predict": detect_cli.cli_predict, "explain": detect_cli.cli_explain}))
TASKS.register("segment")(TaskEntry(
    segment.train, segment_outputs.evaluate, segment.SUMMARY_KEYS, segment_outputs.finish,
    commands={"eval": segment_outputs.cli_eval, "predict": segment_outputs.cli_predict, "explain": segment_explain.cli_explain}))

__all__ = ["TASKS", "TaskEntry"]
