"""The decoded copy's content key: every file read and hashed again, against the digests the listing already took.

Train + val of N Fashion-MNIST PNGs (``vislearn data sample fashion-mnist --limit N``, written once under CACHE),
listed by ``read_labelled``; both ways alternate round by round, the keys must be equal. CPU seconds per round.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/content_key.py --images 10000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE  # noqa: E402

import vislearn  # noqa: E402
from vislearn.data import decoded_store, read_labelled  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000, help="Fashion-MNIST images per split")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = CACHE / f"fashion-mnist-{args.images}"
    if not (root / "test").is_dir():
        vislearn.sample("fashion-mnist", root, quiet=True, limit=args.images)
    data = read_labelled(root, seed=0)
    parts = [data.splits["train"], data.splits["val"]]
    ways = {"every file read again": None, "the listing's digests": data.digests}
    seconds, keys = {name: [] for name in ways}, {}
    for round_ in range(args.rounds):
        for name in list(ways)[:: 1 if round_ % 2 == 0 else -1]:
            start = time.process_time()
            keys[name] = [decoded_store.content_key(p, 256, ways[name]) for p in parts]
            seconds[name].append(time.process_time() - start)
    print(f"{sum(map(len, parts))} files (train + val); keys equal: {'ok' if len(set(map(tuple, keys.values()))) == 1 else 'FAILED'}")
    for name, values in seconds.items():
        print(f"{name:>22}: {', '.join(f'{s:.3f}' for s in values)} CPU s")


if __name__ == "__main__":
    main()
