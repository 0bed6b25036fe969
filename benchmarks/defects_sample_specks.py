"""The default defect method on one sample texture written alone (as the slow test writes it) at a seed.

    python benchmarks/defects_sample_specks.py grass 0 /tmp/specks-grass-0     # the slow test's draw
    python benchmarks/defects_sample_specks.py grass 1 /tmp/specks-grass-1     # another draw

Prints image AUROC overall and per defect type (specks included), pixel AUROC and the seconds taken.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import vislearn
from vislearn.data.samples.defects import TEXTURES, write_defect_sample

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texture", choices=sorted(TEXTURES))
    parser.add_argument("seed", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    write_defect_sample(args.out / "data", quiet=True, textures=(args.texture,), seed=args.seed)
    started = time.perf_counter()
    run = vislearn.train("defects", data=args.out / "data" / args.texture, out=args.out / "run", log=None, progress=False)
    m = run.metrics
    print(json.dumps({"texture": args.texture, "seed": args.seed, "all": round(m["image_auroc"], 4), "pixel": round(m["pixel_auroc"], 4),
                      "types": {r["defect_type"]: round(r["image_auroc"], 3) for r in m["per_defect"]},
                      "s": round(time.perf_counter() - started)}))
