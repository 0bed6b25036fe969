"""`vislearn predict RUN SOURCE --engine ray` against a real local Ray cluster: the same CSV as without Ray, resumable shards."""
import csv

import numpy as np
import pytest
from PIL import Image
from tiny_runs import SMALL_CLASSIFIER, train_tiny

from vislearn.cli import main
from vislearn.engine.ray_jobs import chunks, pending
from vislearn.errors import VislearnError
from vislearn.tasks.predict_ray import read_shard, read_sources, write_shard


def _photos(root, n: int = 6):
    """Crops of scikit-image's photos (colour, 40-90 px): made unlike the digits the run learnt."""
    from skimage import data

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(["astronaut", "coffee", "chelsea"] * (n // 3)):
        photo = getattr(data, name)()
        side = int(rng.integers(40, 90))
        y, x = (int(rng.integers(0, s - side)) for s in photo.shape[:2])
        Image.fromarray(photo[y:y + side, x:x + side]).save(root / f"{name}_{i}.jpg")
    return root


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, make_digits):
    root = tmp_path_factory.mktemp("raypredict")
    data = make_digits(root / "data", 20, classes=range(3))
    make_digits(root / "images" / "digits", 12, classes=range(10))
    _photos(root / "images" / "photos")
    (root / "images" / "broken.png").write_bytes(b"not a png")
    run = train_tiny("classify", data=data, out=root / "run", explain_examples=0, epochs=2, **SMALL_CLASSIFIER)
    return run, root / "images"


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _same_predictions(ray_csv, local_csv) -> None:
    """Same header, paths, labels, refer_to_human and reasons; confidences and probabilities within 1e-5."""
    ray, local = _rows(ray_csv), _rows(local_csv)
    assert ray[0] == local[0] and len(ray) == len(local) > 100
    by_path = {r[0]: r for r in local[1:]}
    numeric = {i for i, h in enumerate(local[0]) if h == "confidence" or h.startswith("prob_")}
    for row in ray[1:]:
        twin = by_path[row[0]]
        assert [c for i, c in enumerate(row) if i not in numeric] == [c for i, c in enumerate(twin) if i not in numeric]
        assert all(abs(float(row[i]) - float(twin[i])) <= 1e-5 for i in numeric)


@pytest.mark.slow
def test_ray_predictions_equal_local_ones_and_a_rerun_skips_finished_shards(ray_cluster, digits_run, tmp_path, capsys):
    run, images = digits_run
    base = ["predict", str(run.dir), str(images), "--backend", "torch", "--batch-size", "16"]
    assert main(base + ["--out", str(tmp_path / "local.csv"), "--quiet"]) == 0
    out = tmp_path / "ray"
    assert main(base + ["--engine", "ray", "--out-dir", str(out), "--shard-size", "40", "--actors", "2"]) == 0
    _same_predictions(out / "predictions.csv", tmp_path / "local.csv")
    shards = sorted((out / "shards").glob("*.parquet"))
    assert len(shards) == 4  # 120 digits, 6 photos and 1 broken file in shards of 40
    assert "1 unreadable" in capsys.readouterr().err

    # a killed job: one shard never finished, one left half-written
    shards[1].unlink()
    (out / "shards" / f".{shards[2].name}.abc123.tmp").write_bytes(b"half")
    kept = {s: s.stat().st_mtime_ns for s in shards if s != shards[1]}
    assert main(base + ["--engine", "ray", "--out-dir", str(out), "--shard-size", "40", "--actors", "1"]) == 0
    assert "4 shards: 3 finished earlier (skipped), 1 to predict" in capsys.readouterr().err
    assert all(s.stat().st_mtime_ns == t for s, t in kept.items()) and shards[1].exists()
    assert not list((out / "shards").glob(".*.tmp"))
    assert _rows(out / "predictions.csv") == _rows(tmp_path / "ray" / "predictions.csv")
    _same_predictions(out / "predictions.csv", tmp_path / "local.csv")


def test_chunks_are_named_by_their_paths_and_fixed_by_the_sorted_list():
    paths = [f"img_{i:03d}.png" for i in range(10)]
    first, shuffled = chunks(paths, 4), chunks(paths[::-1] + paths[:2], 4)
    assert first == shuffled and [len(c.paths) for c in first] == [4, 4, 2]
    assert len({c.name for c in first}) == 3
    changed = chunks(paths[:9] + ["new.png"], 4)
    assert changed[0] == first[0] and changed[1] == first[1] and changed[2] != first[2]


def test_pending_skips_finished_shards_and_removes_half_written_ones(tmp_path):
    todo = chunks([f"{i}.png" for i in range(6)], 2)
    (tmp_path / f"{todo[0].name}.parquet").write_bytes(b"done")
    (tmp_path / f".{todo[1].name}.parquet.0a1b2c.tmp").write_bytes(b"half")
    assert pending(todo, tmp_path, ".parquet") == todo[1:]
    assert list(tmp_path.glob(".*")) == []


def test_a_shard_keeps_the_csv_cells_and_the_unreadable_files(tmp_path):
    write_shard(tmp_path / "s.parquet", ["path", "score", "mask"], [["a.png", 0.5, None], ["b.png", 1, ""]], [("c.png", "not an image")])
    assert read_shard(tmp_path / "s.parquet") == (["path", "score", "mask"], [["a.png", "0.5", ""], ["b.png", "1", ""]],
                                                  [("c.png", "not an image")])


def test_a_list_file_names_images_relative_to_its_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "sub" / "a.png")
    (tmp_path / "list.txt").write_text("# photos\nsub/a.png\n\n/elsewhere/b.jpg\n")
    assert read_sources([tmp_path / "list.txt", tmp_path / "sub"]) == [str(tmp_path / "sub/a.png"), "/elsewhere/b.jpg",
                                                                       str(tmp_path / "sub/a.png")]


def test_shards_of_another_run_or_options_are_refused(tmp_path):
    from vislearn.tasks.predict_ray import _claim

    job = {"run": "/runs/a", "options": {"batch_size": 8}, "weights_mtime_ns": 1}
    _claim(tmp_path, job)
    _claim(tmp_path, job)  # the same job again: its shards are reused
    for other in ({**job, "run": "/runs/b"}, {**job, "options": {"batch_size": 16}}, {**job, "weights_mtime_ns": 2}):
        with pytest.raises(VislearnError, match="holds shards of another job"):
            _claim(tmp_path, other)


def test_engine_ray_without_ray_names_the_install_command(monkeypatch):
    import builtins

    from vislearn.engine.ray_jobs import import_ray

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name.startswith("ray") else real_import(name, *a, **k))
    with pytest.raises(VislearnError, match=r"pip install 'vislearn\[ray\]'"):
        import_ray()


@pytest.mark.slow
def test_engine_ray_refuses_detect_runs_and_asks_for_an_out_dir(digits_run, tmp_path, capsys):
    import json
    import shutil

    run, images = digits_run
    assert main(["predict", str(run.dir), str(images), "--engine", "ray", "--quiet"]) == 2
    assert "--engine ray needs --out-dir" in capsys.readouterr().err
    detect = tmp_path / "detect-run"
    shutil.copytree(run.dir, detect)
    config = json.loads((detect / "config.json").read_text())
    (detect / "config.json").write_text(json.dumps({**config, "task": "detect"}))
    assert main(["predict", str(detect), str(images), "--engine", "ray", "--out-dir", str(tmp_path / "out"), "--quiet"]) == 2
    assert "--engine ray predicts classify and defects runs" in capsys.readouterr().err
