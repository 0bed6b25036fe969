"""A new task is one module with one Task object: this toy task, written here and registered here only, trains,
predicts and answers through the command line (with its own train and predict flags) and the Python API with no edit
anywhere else in vislearn."""
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score

import vislearn
from vislearn.cli import main
from vislearn.data import read_image, read_labelled
from vislearn.errors import ImageReadError
from vislearn.files import Problem, read_json, write_json
from vislearn.tasks import TASKS, Flag, FlagGroup, TrainFlag, TrainResult

COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (20, 40, 210)}


def _mean_rgb(path: str) -> np.ndarray:
    """(3,) the image's mean colour."""
    return np.asarray(read_image(path), np.float64).reshape(-1, 3).mean(axis=0)


def _nearest(means_k3: np.ndarray, rgb: np.ndarray, distance: str) -> np.ndarray:
    """(K,) distance of ``rgb`` to each class's mean colour."""
    diff = np.abs(means_k3 - rgb)
    return diff.sum(axis=1) if distance == "l1" else np.sqrt((diff ** 2).sum(axis=1))


def cli_predict(args, log) -> dict:
    from vislearn.tasks.verbs import predict

    predictions, problems = predict(args.run, args.images, progress=False, max_distance=args.toy_max_distance)
    log(f"{len(predictions)} coloured, {len(problems)} unreadable")
    return {"predictions": [p._asdict() for p in predictions], "skipped": [vars(p) for p in problems]}


@dataclass(frozen=True)
class MeanColour:
    """Each class is the mean colour of its training images; an image gets the class with the nearest mean."""

    summary_keys = ("split", "accuracy")
    train_flags = FlagGroup("toy", "options of `train toy-colours`",
                            (TrainFlag("--toy-distance", "toy_distance", argparse={"choices": ["l1", "l2"], "help": "default l2"}),))
    commands = MappingProxyType({"predict": cli_predict})
    verb_flags = MappingProxyType({"predict": FlagGroup("toy-colours runs", "options of `predict` on a toy-colours run", (
        Flag("--toy-max-distance", "toy_max_distance", {"type": float, "help": "refer images farther from every class mean"}),))})

    def train(self, config, run_dir: Path, resume: bool, log, progress: bool) -> TrainResult:
        data = read_labelled(config.data, config.seed, config.val_fraction, config.test_fraction)
        means = np.stack([np.mean([_mean_rgb(s.path) for s in data.splits["train"] if s.label == k], axis=0)
                          for k in range(len(data.class_names))])
        write_json(Path(run_dir) / "config.json", {**config.to_dict(), "class_names": data.class_names,
                                                   "preprocessing": {"mean": [0.0] * 3, "std": [1.0] * 3, "image_size": 8}})
        write_json(Path(run_dir) / "means.json", means.tolist())
        test = data.splits["test"]
        distance = config.extra.get("toy_distance", "l2")
        guesses = [int(np.argmin(_nearest(means, _mean_rgb(s.path), distance))) for s in test]
        metrics = {"split": "test", "accuracy": accuracy_score([s.label for s in test], guesses), "num_images": len(test)}
        write_json(Path(run_dir) / "metrics.json", metrics)
        return TrainResult(config, metrics, None, {"means": means})

    def finish(self, run_dir: Path, result: TrainResult, log) -> None:
        log(f"test accuracy {result.metrics['accuracy']:.3f}")

    def build(self, run) -> np.ndarray:
        return np.asarray(read_json(run.dir / "means.json"))

    def evaluate(self, run, data, out_dir, refer_below=None, progress=True) -> dict:
        raise NotImplementedError

    def predict(self, run, images: Sequence[Path], progress: bool = True, max_distance: float | None = None):
        means, predictions, problems = self.build(run), [], []
        for path in images:
            try:
                distances = _nearest(means, _mean_rgb(str(path)), run.config.extra.get("toy_distance", "l2"))
            except ImageReadError as err:
                problems.append(Problem(err.path, err.reason))
                continue
            k = int(np.argmin(distances))
            probabilities = dict(zip(run.class_names, (1 / (1 + distances)).tolist()))
            far = max_distance is not None and bool(distances[k] > max_distance)
            predictions.append(vislearn.ClassPrediction(str(path), run.class_names[k], probabilities[run.class_names[k]], far,
                                                        probabilities, "far from every class" if far else ""))
        return predictions, problems

    def explain(self, run, image, out_dir, method=None, target=None) -> dict:
        raise NotImplementedError

    def explain_targets(self, run) -> tuple[str, ...]:
        return ()


@pytest.fixture
def toy_task():
    TASKS.register("toy-colours")(MeanColour())
    yield
    TASKS.unregister("toy-colours")


def _colour_folders(root: Path, rng) -> Path:
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(12):
            noisy = np.clip(np.asarray(rgb) + rng.normal(0, 25, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(root / name / f"{i:02d}.png")
    return root


def test_a_task_defined_in_a_test_trains_and_predicts_through_the_cli(toy_task, tmp_path, capsys):
    data = _colour_folders(tmp_path / "colours", np.random.default_rng(0))
    assert main(["train", "toy-colours", "--data", str(data), "--out", str(tmp_path / "run"), "--toy-distance", "l1",
                 "--test-fraction", "0.25", "--json", "--quiet"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["split"] == "test" and answer["accuracy"] == 1.0  # 9 test images of clearly different colours
    assert read_json(tmp_path / "run/config.json")["extra"] == {"toy_distance": "l1"}  # its own flag, typed by the task

    (tmp_path / "broken.png").write_bytes(b"not a picture")
    assert main(["predict", str(tmp_path / "run"), str(data / "blue/00.png"), str(tmp_path / "broken.png"), "--json", "--quiet"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [p["predicted"] for p in answer["predictions"]] == ["blue"] and len(answer["skipped"]) == 1
    assert answer["predictions"][0]["refer_to_human"] is False
    assert main(["predict", str(tmp_path / "run"), str(data / "blue/00.png"), "--toy-max-distance", "0", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["refer_to_human"] is True  # its own predict flag
    predictions, _ = vislearn.predict(tmp_path / "run", [data / "red"], progress=False)
    assert {p.predicted for p in predictions} == {"red"} and all(isinstance(p, vislearn.ClassPrediction) for p in predictions)


def test_a_verb_the_task_does_not_declare_is_refused_by_the_cli(toy_task, tmp_path, capsys):
    data = _colour_folders(tmp_path / "colours", np.random.default_rng(1))
    assert main(["train", "toy-colours", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["explain", str(tmp_path / "run"), str(data / "red/00.png")]) == 2
    assert "does not apply to toy-colours runs" in capsys.readouterr().err
