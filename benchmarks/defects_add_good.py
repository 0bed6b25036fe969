"""`vislearn defects add-good`, both sides: good images in a new lighting are flagged; after some of them are added,
are the OTHER new-look good images flagged less, and are real defects (tiny specks included) still detected?

    OMP_NUM_THREADS=2 python benchmarks/defects_add_good.py textile /tmp/addgood --method patchcore
    OMP_NUM_THREADS=2 python benchmarks/defects_add_good.py grass /tmp/addgood           # vislearn's own sample texture

``textile`` is benchmarks/textile_set.py's woven cloth (made differently from the sample: drawn threads, a real
photo's light and grain), ``grass`` a texture of ``vislearn data sample defects``. The new look: the same product under
brighter, warmer light (gamma 0.7, red +4 %, blue -4 %), drawn fresh (not the training crops). Of --new new-look good
images, --add are added with add-good; the others measure the false-alarm side. Recall is measured on the test set
as it was and on the same defects in the new light, each at the run's own threshold (before and after).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))


def relight(image_hw3: np.ndarray) -> np.ndarray:
    """(H, W, 3) in [0, 1] under the new light: brighter (gamma 0.7) and warmer."""
    return np.clip(image_hw3 ** 0.7 * np.array([1.04, 1.0, 0.96]), 0, 1)


def _save(image: np.ndarray, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(path)
    return str(path)


def _read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255


def write_set(kind: str, root: Path, size: int, n_train: int, n_new: int, seed: int) -> tuple[Path, list[str]]:
    """(data folder in the MVTec layout, new-look good images); the test defects are also written relit
    under ``root/relit/<type>``."""
    data, new_dir = root / kind, root / f"{kind}-new"
    if (root / "relit" / kind).is_dir():  # written by an earlier call
        return data, sorted(map(str, (root / "new-look" / kind).glob("*.png")))
    if kind == "textile":
        from textile_set import write_textile

        write_textile(data, size, n_train, 40, 20, seed)
        write_textile(new_dir, size, n_new, 0, 0, seed + 100)
    else:
        from vislearn.data.samples.defects import write_texture

        write_texture(kind, data, np.random.default_rng(seed), size, n_train, 40, 12)
        write_texture(kind, new_dir, np.random.default_rng(seed + 100), size, n_new, 0, 0)
    new = [_save(relight(_read(p)), root / "new-look" / kind / p.name) for p in sorted((new_dir / "train/good").glob("*.png"))]
    for p in sorted((data / "test").glob("*/*.png")):
        if p.parent.name != "good":
            _save(relight(_read(p)), root / "relit" / kind / p.parent.name / p.name)
    return data, new


def scores(run_dir: Path, paths: list[str]) -> tuple[np.ndarray, float]:
    from vislearn.tasks.defects.detector import load_detector, predict_paths

    detector, pre, _ = load_detector(run_dir)
    found = {p.path: p.score for p in predict_paths(detector, paths, pre, 32)}
    return np.array([found[p] for p in paths]), detector.calibration.threshold


def defect_like(run_dir: Path, data: Path, new: list[str]) -> dict:
    """Share of images add-good would leave out as "is it really good?": the new-look good ones (should be none)
    and the test defects of each type (as many as possible: a user who adds them by mistake)."""
    from vislearn.tasks.defects.add_good import looks_like_a_defect
    from vislearn.tasks.defects.detector import load_detector, predict_paths

    detector, pre, _ = load_detector(run_dir)
    groups = {"new-look good": new, **{p.name: sorted(map(str, p.glob("*.png"))) for p in sorted((data / "test").iterdir())}}
    return {name: float(np.mean([looks_like_a_defect(p, detector.calibration.threshold) for p in predict_paths(detector, paths, pre)]))
            for name, paths in groups.items()}


def measure(run_dir: Path, data: Path, others: list[str], relit: Path) -> dict:
    good = sorted(map(str, (data / "test/good").glob("*.png")))
    types = sorted(p.name for p in (data / "test").iterdir() if p.name != "good")
    defects = {t: sorted(map(str, (data / "test" / t).glob("*.png"))) for t in types}
    relit_defects = sorted(map(str, relit.glob("*/*.png")))
    every = good + others + relit_defects + [p for t in types for p in defects[t]]
    s, threshold = scores(run_dir, every)
    by = dict(zip(every, s))
    flagged = lambda paths: float(np.mean([by[p] > threshold for p in paths]))  # noqa: E731
    all_defects = [p for t in types for p in defects[t]]
    return {"threshold": threshold, "new_look_good_flagged": flagged(others), "test_good_flagged": flagged(good),
            "recall": {t: flagged(defects[t]) for t in types}, "recall_relit": flagged(relit_defects),
            "recall_relit_by_type": {t: flagged([p for p in relit_defects if Path(p).parent.name == t]) for t in types},
            "image_auroc": roc_auc_score([0] * len(good) + [1] * len(all_defects), [by[p] for p in good + all_defects]),
            "auroc_new_look_vs_relit_defects": roc_auc_score([0] * len(others) + [1] * len(relit_defects),
                                                             [by[p] for p in others + relit_defects])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["textile", "grass", "brick", "gravel"])
    parser.add_argument("root", type=Path)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train", type=int, default=96, help="good training images")
    parser.add_argument("--new", type=int, default=60, help="good images in the new look")
    parser.add_argument("--add", type=int, default=20, help="of them, added with add-good (the rest measure)")
    parser.add_argument("--method", default="patchcore+distill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--student", default="fine-tune", choices=["fine-tune", "keep"], help="add-good's --student")
    parser.add_argument("--retrain", action="store_true", help="also a full retrain with the added images in train/good, to compare")
    args = parser.parse_args()
    import vislearn
    from vislearn.tasks.defects.add_good import add_good

    data, new = write_set(args.kind, args.root / f"seed{args.seed}", args.size, args.train, args.new, args.seed)
    run_dir = args.root / f"seed{args.seed}" / f"run-{args.kind}-{args.method}"
    if not (run_dir / "detector.safetensors").exists():  # trained once per set and method; add-good writes a new run
        vislearn.train("defects", data=data, out=run_dir, log=None, progress=False, extra={"method": args.method})
    added, others = new[:args.add], new[args.add:]
    relit = args.root / f"seed{args.seed}" / "relit" / args.kind
    print("left out as 'is it really good?':", {k: round(v, 2) for k, v in defect_like(run_dir, data, new).items()})
    before = measure(run_dir, data, others, relit)
    started = time.perf_counter()
    out = run_dir.with_name(run_dir.name + f"-good{time.time_ns()}")
    record = add_good(run_dir, added, out=out, evaluate=False, student=args.student, log=lambda m: print("  add-good:", m))
    took = time.perf_counter() - started
    after = measure(out, data, others, relit)
    print(f"{args.kind} {args.size}px seed {args.seed} {args.method} --student {args.student}: {len(added)} new-look good images added "
          f"({record['added']} kept), {len(others)} others measured; add-good took {took:.1f} s")
    rows = {"add-good": after}
    if args.retrain:
        rows["full retrain"] = measure(retrain(data, added, run_dir.with_name(run_dir.name + "-retrained"), args.method), data, others, relit)
    for key in before:
        print(f"  {key}: {before[key]:.3f} -> " + ", ".join(f"{name} {row[key]:.3f}" for name, row in rows.items())
              if isinstance(before[key], float) else f"  {key}: {before[key]} -> " + ", ".join(f"{name} {row[key]}" for name, row in rows.items()))


def retrain(data: Path, added: list[str], out: Path, method: str) -> Path:
    """A run trained from scratch on the training images plus ``added`` (linked in as train/good/new_*.png)."""
    import shutil

    import vislearn

    if not (out / "detector.safetensors").exists():
        both = out.with_name(out.name + "-data")
        shutil.rmtree(both, ignore_errors=True)
        shutil.copytree(data, both, symlinks=True)
        for p in added:
            (both / "train/good" / f"new_{Path(p).name}").symlink_to(Path(p).resolve())
        started = time.perf_counter()
        vislearn.train("defects", data=both, out=out, log=None, progress=False, extra={"method": method})
        print(f"full retrain took {time.perf_counter() - started:.1f} s")
    return out


if __name__ == "__main__":
    main()
