"""The task registry: every task gives the API and the CLI the same entry points, found by name, not by attribute."""
import dataclasses

import pytest

from vislearn.cli import build_parser
from vislearn.tasks import TASKS, TaskEntry


def test_every_task_has_train_evaluate_summary_keys_and_only_known_cli_verbs():
    assert TASKS.names() == ["classify", "defects", "detect", "segment"]
    for name in TASKS:
        entry = TASKS.get(name)
        assert isinstance(entry, TaskEntry) and callable(entry.train) and callable(entry.evaluate), name
        assert entry.summary_keys and all(isinstance(k, str) for k in entry.summary_keys), name
        assert "predict" in entry.commands and set(entry.commands) <= {"eval", "predict", "explain"}, name
        assert all(callable(c) for c in entry.commands.values()) and (entry.finish is None or callable(entry.finish)), name
    assert TASKS.get("classify").finish is None  # classify's gallery and report are written by api.finish
    assert "explain" not in TASKS.get("defects").commands  # `vislearn explain` on a defects run says it does not apply


def test_train_accepts_exactly_the_registered_tasks():
    parser = build_parser()
    assert parser.parse_args(["train", "segment", "--data", "d"]).task == "segment"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "dragons", "--data", "d"])


def test_a_registered_entry_cannot_be_changed_afterwards():
    entry = TASKS.get("detect")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.train = print
    with pytest.raises(TypeError):
        entry.commands["explain"] = print
    with pytest.raises(ValueError, match="already registered"):
        TASKS.register("detect")(entry)
