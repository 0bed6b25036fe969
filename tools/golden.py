"""Golden outputs: run every task's recipe on tiny data with a fixed seed, record what it wrote, compare later.

    .venv/bin/python tools/golden.py record build/golden      # on the code before a refactor
    .venv/bin/python tools/golden.py check build/golden       # after it: exit 1 and a list of differences if any

A refactor must not change behaviour: the CLI's ``--json`` answers, metrics, prediction CSV/JSON rows, masks and
pictures must come out the same. ``check`` compares each recorded file with the new run's:
  - ``.png``: decoded pixels must be identical (the PNG bytes may differ only by encoder metadata);
  - ``.json``/``.csv``: same structure, strings and integers; floats equal within ``REL``/``ABS`` (floating point sums
    can differ in the last digits from run to run); keys in ``VOLATILE`` (wall-clock timings, file dates) are skipped;
  - everything else recorded (``.txt``): byte-identical.
It reports how many files were byte-identical and which needed the tolerance. Paths inside files are written
relative to the work folder (``{WORK}``), so recordings in different folders compare.
The recipes run in-process, one torch thread, no loader processes: about a minute on 2 cores.
The recording is machine-specific (torch build, CPU kernels): record and check on the same machine.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REL, ABS = 1e-5, 1e-6  # numeric tolerance for JSON/CSV numbers
VOLATILE = {"seconds", "stage_seconds", "images_per_second", "ms_per_image", "generated", "mtime_ns"}  # wall-clock times, file dates
RECORDED = {".json", ".csv", ".txt", ".png"}
SKIPPED_PARTS = {"data"}  # the generated inputs are checked through what the tasks make of them
SKIPPED_NAMES = {"store.npz", "index.faiss"}

TINY = ["--weights", "none", "--workers", "0", "--seed", "0", "--device", "cpu", "--precision", "fp32"]

# One recipe per task: CLI calls run in order inside the work folder; ``<name>.json`` keeps each call's --json answer.
RECIPES: dict[str, list[tuple[str, list[str]]]] = {
    "classify": [
        ("sample", ["data", "sample", "digits", "data/digits"]),
        ("train", ["train", "classify", "--data", "data/digits", "--out", "classify", "--model", "tiny_cnn_small", "--epochs", "2",
                   "--image-size", "16", "--batch-size", "32", *TINY]),
        ("eval", ["eval", "classify", "--data", "data/digits", "--out", "classify/eval"]),
        ("predict", ["predict", "classify", "data/digits/3", "--out", "classify/predict.csv", "--max-error", "0.2"]),
        # not --prediction-sets: MAPIE's APS scores draw unseeded random numbers, so its sets change from call to call
        ("explain", ["explain", "classify", "data/digits/3/digit_00003.png", "--out", "classify/explain_one"]),
    ],
    "classify_fashion": [  # made differently: real 28x28 photos of clothes, IDX files (Debian dataset-fashion-mnist)
        ("sample", ["data", "sample", "fashion-mnist", "data/fashion", "--limit", "300"]),
        ("train", ["train", "classify", "--data", "data/fashion", "--out", "fashion", "--model", "tiny_cnn_small", "--epochs", "2",
                   "--image-size", "28", "--batch-size", "32", *TINY]),
        ("predict", ["predict", "fashion", "data/fashion/test/bag", "--out", "fashion/predict.csv"]),
    ],
    "segment": [
        ("sample", ["data", "sample", "segment", "data/shapes", "--limit", "24"]),
        ("train", ["train", "segment", "--data", "data/shapes", "--out", "segment", "--model", "tiny_unet", "--epochs", "1",
                   "--image-size", "48", "--batch-size", "8", *TINY]),
        ("predict", ["predict", "segment", "data/shapes/images/shapes_0001.png", "data/shapes/images/shapes_0002.png",
                     "--out-dir", "segment/predict", "--tile-overlap", "0.5"]),
        ("eval", ["eval", "segment", "--data", "data/shapes", "--out", "segment/eval"]),
        ("explain", ["explain", "segment", "data/shapes/images/shapes_0001.png", "--out", "segment/explain_one", "--target", "disc"]),
    ],
    "detect": [
        ("sample", ["data", "sample", "detect", "data/boxes", "--limit", "8"]),
        ("train", ["train", "detect", "--data", "data/boxes", "--out", "detect", "--model", "tiny_det", "--epochs", "1",
                   "--image-size", "64", "--batch-size", "8", *TINY]),
        ("predict", ["predict", "detect", "data/boxes/images/test", "--out-dir", "detect/predict", "--conf", "0.0"]),
        ("eval", ["eval", "detect", "--data", "data/boxes", "--out", "detect/eval"]),
        ("explain", ["explain", "detect", "data/boxes/images/test/0000.png", "--out", "detect/explain_one"]),
        ("convert", ["data", "convert", "data/boxes", "converted_yolo", "--to", "yolo"]),
    ],
    "defects": [
        ("sample", ["data", "sample", "defects", "data/textures", "--limit", "12"]),
        ("train", ["train", "defects", "--data", "data/textures/brick", "--out", "defects", "--method", "random-distill",
                   "--model", "tiny_cnn", "--epochs", "2", "--image-size", "64", "--batch-size", "8", *TINY]),
        ("predict", ["predict", "defects", "data/textures/brick/test/hole", "data/textures/brick/test/good",
                     "--out", "defects/predict.csv", "--out-dir", "defects/predict"]),
        ("eval", ["eval", "defects", "--data", "data/textures/gravel", "--out", "defects/eval_gravel"]),
    ],
    "organize": [
        ("sample", ["data", "sample", "collection", "data/photos", "--limit", "4"]),
        ("organize", ["organize", "data/photos", "--out", "organize", "--image-size", "64", "--workers", "0"]),
        ("search", ["search", "organize", "--image", "data/photos/rocket/rocket_002.jpg", "-k", "3"]),
        ("search_text", ["search", "organize", "--text", "a cat", "-k", "3"]),
    ],
}


def run_recipes(work: Path, names: list[str]) -> None:
    """Run the named recipes inside ``work``; each call's ``--json`` answer goes to ``answers/<recipe>_<step>.json``."""
    import os

    import torch

    from vislearn.cli import main

    torch.set_num_threads(1)
    (work / "answers").mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(work)
    try:
        for name in names:
            for step, args in RECIPES[name]:
                stdout = io.StringIO()
                with contextlib.redirect_stdout(stdout):
                    code = main([*args, "--json", "--quiet"])
                print(f"{name}/{step}: exit {code}", file=sys.stderr, flush=True)
                (work / "answers" / f"{name}_{step}.json").write_text(json.dumps({"exit": code, "stdout": stdout.getvalue()}))
    finally:
        os.chdir(here)


def recorded_files(work: Path) -> list[Path]:
    """The outputs worth comparing, relative to ``work``, sorted."""
    files = []
    for path in sorted(work.rglob("*")):
        rel = path.relative_to(work)
        if path.is_file() and path.suffix in RECORDED and rel.parts[0] not in SKIPPED_PARTS and path.name not in SKIPPED_NAMES:
            files.append(rel)
    return files


def _normalize_text(text: str, work: Path) -> str:
    return text.replace(str(work), "{WORK}")


def record(out: Path, names: list[str], work: Path | None = None) -> Path:
    """Run the recipes and copy their outputs (paths made relative) into ``out``."""
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        work = (work or Path(tmp)).resolve()
        run_recipes(work, names)
        if out.exists():
            shutil.rmtree(out)
        for rel in recorded_files(work):
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel.suffix == ".png":
                shutil.copyfile(work / rel, target)
            else:
                target.write_text(_normalize_text((work / rel).read_text(encoding="utf-8"), work), encoding="utf-8")
    (out / "recipes.json").write_text(json.dumps(names))
    return out


# -- comparison ---------------------------------------------------------------------------------------------------------

def _number(value) -> int | float | None:
    """The number a JSON value or CSV cell holds (ints stay ints: they must match exactly), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
        return None
    return value


def compare_values(a, b, where: str, out: list[str], loose: list[str]) -> None:
    """Append to ``out`` each place ``b`` differs from ``a`` beyond the tolerance, to ``loose`` each float within it."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{where}: keys differ: only before {sorted(set(a) - set(b))}, only after {sorted(set(b) - set(a))}")
        for key in sorted(set(a) & set(b) - VOLATILE):
            compare_values(a[key], b[key], f"{where}.{key}", out, loose)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(x, y, f"{where}[{i}]", out, loose)
    elif a != b or isinstance(a, bool) != isinstance(b, bool):  # JSON true is not 1
        x, y = _number(a), _number(b)
        floats = isinstance(x, float) or isinstance(y, float)
        if floats and x is not None and y is not None and (math.isclose(x, y, rel_tol=REL, abs_tol=ABS) or (x != x and y != y)):
            loose.append(where)
        else:
            out.append(f"{where}: {a!r} before, {b!r} after")


def _read_structured(path: Path, text: str):
    if path.suffix == ".json":
        value = json.loads(text)
        if isinstance(value, dict) and "stdout" in value and path.parent.name == "answers":
            value["stdout"] = json.loads(value["stdout"]) if value["stdout"].strip() else ""
        return value
    return list(csv.reader(io.StringIO(text)))


def compare_file(rel: Path, before: Path, after: Path, work: Path) -> tuple[str, list[str]]:
    """("identical" | "within tolerance" | "different", differences) for one recorded file."""
    if rel.suffix == ".png":
        if before.read_bytes() == after.read_bytes():
            return "identical", []
        a, b = np.asarray(Image.open(before)), np.asarray(Image.open(after))
        same = a.shape == b.shape and np.array_equal(a, b)
        return ("within tolerance", []) if same else ("different", [f"{rel}: pixels differ"])
    old, new = before.read_text(encoding="utf-8"), _normalize_text(after.read_text(encoding="utf-8"), work)
    if old == new:
        return "identical", []
    if rel.suffix not in {".json", ".csv"}:
        return "different", [f"{rel}: bytes differ"]
    differences: list[str] = []
    loose: list[str] = []
    compare_values(_read_structured(rel, old), _read_structured(rel, new), str(rel), differences, loose)
    if differences:
        return "different", differences
    return ("within tolerance", []) if loose else ("same but timings", [])


def check(golden: Path, work: Path | None = None) -> int:
    """Re-run the recorded recipes and compare; 0 when everything matches."""
    names = json.loads((golden / "recipes.json").read_text())
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        work = (work or Path(tmp)).resolve()
        run_recipes(work, names)
        before = set(recorded_files(golden)) - {Path("recipes.json")}
        after = set(recorded_files(work))
        problems = [f"{p}: missing now" for p in sorted(before - after)] + [f"{p}: new file" for p in sorted(after - before)]
        tally: dict[str, list[str]] = {"identical": [], "same but timings": [], "within tolerance": [], "different": []}
        for rel in sorted(before & after):
            verdict, differences = compare_file(rel, golden / rel, work / rel, work)
            tally[verdict].append(str(rel))
            problems += differences
    print(f"{len(tally['identical'])} files byte-identical, {len(tally['same but timings'])} identical but for timings, "
          f"{len(tally['within tolerance'])} within tolerance (floats: REL {REL}, ABS {ABS}; PNG: pixels equal), "
          f"{len(tally['different'])} different")
    for rel in tally["within tolerance"]:
        print(f"  within tolerance: {rel}")
    for line in problems[:200]:
        print(f"  DIFF {line}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("dir", type=Path, help="folder of the recorded outputs")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)} (record only)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (to look at a difference)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    if args.action == "record":
        names = [n for n in args.recipes.split(",") if n]
        unknown = sorted(set(names) - set(RECIPES))
        if unknown:
            parser.error(f"unknown recipes {unknown}")
        out = record(args.dir, names, args.keep)
        print(f"recorded {len(recorded_files(out)) - 1} files of {', '.join(names)} in {out}")
        return 0
    return check(args.dir, args.keep)


if __name__ == "__main__":
    sys.exit(main())
