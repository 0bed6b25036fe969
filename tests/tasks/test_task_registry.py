"""The task registry: every task is one Task object the API and the CLI call through, found by name, not by attribute."""
import dataclasses

import pytest

from vislearn.cli import build_parser
from vislearn.tasks import TASKS, FlagGroup, Task


def test_every_task_is_a_task_object_with_summary_keys_flags_and_only_known_cli_verbs():
    assert TASKS.names() == ["classify", "defects", "detect", "segment"]
    for name in TASKS:
        task = TASKS.get(name)
        assert isinstance(task, Task), name
        assert task.summary_keys and all(isinstance(k, str) for k in task.summary_keys), name
        assert "predict" in task.commands and set(task.commands) <= {"eval", "predict", "explain"}, name
        assert all(callable(c) for c in task.commands.values()), name
        assert task.train_flags is None or isinstance(task.train_flags, FlagGroup), name
    assert "explain" not in TASKS.get("defects").commands  # `vislearn explain` on a defects run says it does not apply


def test_train_flags_come_from_the_tasks_that_declare_them():
    args = build_parser().parse_args(["train", "defects", "--data", "d", "--max-false-alarm", "0.02", "--max-error", "0.1"])
    assert args.max_false_alarm == 0.02 and args.max_error == 0.1 and args.method is None
    declared = {f.flag for name in TASKS if TASKS.get(name).train_flags for f in TASKS.get(name).train_flags.flags}
    assert {"--max-false-alarm", "--method", "--max-error", "--unlike-rate"} <= declared


def test_eval_and_predict_flags_come_from_the_tasks_that_declare_them():
    from vislearn.tasks.base import verb_flags

    args = build_parser().parse_args(["predict", "r", "a.png", "--conf", "0.4", "--tile-overlap", "0.5", "--max-error", "0.01"])
    assert (args.conf, args.tile_overlap, args.max_error, args.backend, args.iou) == (0.4, 0.5, 0.01, "auto", None)
    assert build_parser().parse_args(["eval", "r", "--data", "d", "--refer-below", "0.7"]).refer_below == 0.7
    declared = {verb: {f.flag for name in TASKS if (group := verb_flags(TASKS.get(name), verb)) for f in group.flags}
                for verb in ("eval", "predict", "explain")}
    assert declared == {"eval": {"--refer-below"}, "explain": set(),
                        "predict": {"--refer-below", "--max-error", "--prediction-sets", "--backend", "--conf", "--iou", "--tile-overlap"}}
    for name in TASKS:  # a task adds flags only to verbs it answers
        assert {verb for verb in ("eval", "predict", "explain") if verb_flags(TASKS.get(name), verb)} <= set(TASKS.get(name).commands)


def test_train_accepts_exactly_the_registered_tasks():
    parser = build_parser()
    assert parser.parse_args(["train", "segment", "--data", "d"]).task == "segment"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "dragons", "--data", "d"])


def test_a_registered_task_cannot_be_changed_afterwards():
    task = TASKS.get("detect")
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.summary_keys = ()
    with pytest.raises(TypeError):
        task.commands["explain"] = print
    with pytest.raises(ValueError, match="already registered"):
        TASKS.register("detect")(task)
