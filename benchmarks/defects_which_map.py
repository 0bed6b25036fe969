"""Which map flags an image of a `patchcore+distill` run: the share of IMAGES flagged at the run's threshold as it
is, and without one part: the student's map or PatchCore's coarse map (set to its held-out good images' mean, z 0,
in the pair's average), the pair, PatchCore's fine map, the pixel map, both (left out of the pixel-wise maximum), the
whole-image score.

    OMP_NUM_THREADS=1 python benchmarks/defects_which_map.py RUN IMAGES...

Used on benchmarks/defects_add_good.py's runs (the other new-look good images, before and after add-good) to tell
how much of the false alarms the student makes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

PARTS = ("nothing", "student", "patchcore coarse", "the pair", "patchcore fine", "pixel", "fine and pixel", "whole-image")


@torch.no_grad()
def flagged_without(detector, images_bchw: torch.Tensor, part: str) -> torch.Tensor:
    """(B,) bool: flagged at the run's threshold without ``part`` (one of PARTS)."""
    from vislearn.anomaly.features import Description
    from vislearn.anomaly.scales import strongest

    method = detector.method
    *convs, learned = method._convs(images_bchw)
    memory, (coarse, fine, pixel) = method.patchcore.describe_with_maps(images_bchw, None, convs)
    if part in ("student", "the pair"):
        learned = torch.full_like(learned, method.scales[1].mean)
    if part in ("patchcore coarse", "the pair"):
        coarse = torch.full_like(coarse, method.scales[0].mean)
    pair, fine, pixel = method._pair_and_fine([coarse, fine, pixel, learned])
    # the maximum's maps are left out (a constant would not be neutral in peak units: most pixels lie below 0)
    left = {"patchcore fine": (1,), "pixel": (2,), "fine and pixel": (1, 2)}.get(part, ())
    maps, peaks = zip(*[(m, s) for i, (m, s) in enumerate(zip([pair, fine, pixel], method.peaks)) if i not in left])
    heat, global_ = detector.raw_from(Description(strongest(list(maps), list(peaks)), memory.pooled_bd), tuple(images_bchw.shape[-2:]))
    scores = detector.calibrated(heat, global_)
    z = scores.local_z_b if part == "whole-image" else scores.score_b
    return z > detector.calibration.threshold


def shares(run_dir: Path, paths: list[str]) -> dict[str, float]:
    from vislearn.tasks.defects.detector import _loader, load_detector

    detector, pre, _ = load_detector(run_dir)
    flags = {part: [] for part in PARTS}
    for batch in _loader(paths, pre, 16):
        for part in PARTS:
            flags[part].append(flagged_without(detector, batch.images, part))
    return {part: float(torch.cat(f).float().mean()) for part, f in flags.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    found = shares(args.run, args.images)
    print(f"{args.run.name}, {len(args.images)} images flagged without: "
          + ", ".join(f"{part} {share:.1%}" for part, share in found.items()))


if __name__ == "__main__":
    main()
