"""Query latency of the organize search index over 1 M embeddings: exact FAISS vs vislearn's approximate index.

Vectors are synthetic unit embeddings. ``--data clustered`` (default) draws them around one centre per
``--per-centre`` vectors (100: 10,000 centres for 1 M), like photos of many subjects; ``--data uniform`` draws them
uniformly on the sphere, where no index can beat brute force (every neighbour is nearly as far as every other) and recall@10 of any IVF is low.

The exact side is brute-force inner product (``faiss.knn``, the kernel of ``IndexFlatIP``, run on the same
array without a 5 GB copy); the approximate side is ``SearchIndex.build(..., exact_below=0,
                               storage=args.storage)``, the index
``vislearn organize`` builds above 50,000 photos. Both answer single queries one at a time (an interactive
search), alternating round by round; recall@10 is measured against the exact answers.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vislearn.organize.search import SearchIndex  # noqa: E402


def unit_rows(n: int, dim: int, data: str, seed: int, centres: np.ndarray, noise: float) -> np.ndarray:
    """(n, dim) float32 unit rows, made in chunks so memory stays at the result's size."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 50_000):
        rows = min(50_000, n - start)
        x = rng.standard_normal((rows, dim), dtype=np.float32)
        if data == "clustered":
            x = centres[rng.integers(0, len(centres), rows)] + noise * x
        out[start:start + rows] = x
    faiss.normalize_L2(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=1280, help="embedding size (1280: tf_efficientnet_lite0 pooled features)")
    parser.add_argument("--data", choices=("clustered", "uniform"), default="clustered")
    parser.add_argument("--per-centre", type=int, default=100)
    parser.add_argument("--noise", type=float, default=0.5, help="noise norm relative to a centre's (clustered data)")
    parser.add_argument("--storage", default="SQfp16", help="how the IVF stores vectors: SQfp16 (the default), SQ8 or Flat")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--nprobe", default="8,16,32,64", help="IVF cells scanned per query, to compare")
    parser.add_argument("--threads", type=int, default=0, help="FAISS OpenMP threads (0: FAISS's default)")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(1, args.count // args.per_centre), args.dim), dtype=np.float32)
    start = time.perf_counter()
    base = unit_rows(args.count, args.dim, args.data, 1, centres, args.noise)
    queries = unit_rows(args.queries, args.dim, args.data, 2, centres, args.noise)  # new photos, not in the index
    print(f"{args.count:,} x {args.dim} {args.data} vectors ({base.nbytes / 2**30:.1f} GiB float32) made in "
          f"{time.perf_counter() - start:.0f} s; FAISS {faiss.__version__}, {faiss.omp_get_max_threads()} threads", flush=True)

    start = time.perf_counter()
    index = SearchIndex.build(base, [f"photo_{i:07d}.jpg" for i in range(args.count)], exact_below=0,
                               storage=args.storage)
    build_s = time.perf_counter() - start
    print(f"approximate index {index.settings.factory} built in {build_s:.0f} s "
          f"({index.index.sa_code_size() * len(index) / 2**30:.2f} GiB of codes)", flush=True)

    truth = faiss.knn(queries, base, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    ivf = faiss.extract_index_ivf(index.index)
    ms: dict[str, list[float]] = {"exact (brute force)": []}
    recall: dict[str, float] = {}
    for nprobe in (int(p) for p in args.nprobe.split(",")):
        ivf.nprobe = nprobe
        found = np.array([[int(h.path[6:13]) for h in row] for row in index.search(queries, 10)])
        recall[f"approximate nprobe={nprobe}"] = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
        ms[f"approximate nprobe={nprobe}"] = []

    def exact_one(q):
        faiss.knn(q, base, 10, metric=faiss.METRIC_INNER_PRODUCT)

    sample = queries[: min(args.queries, 50)]
    for r in range(args.rounds):
        names = list(ms) if r % 2 == 0 else list(ms)[::-1]
        for name in names:
            if name.startswith("exact"):
                run = exact_one
            else:
                ivf.nprobe = int(name.split("=")[1])
                run = index.search
            start = time.perf_counter()
            for q in sample:
                run(q[None])
            ms[name].append(1000 * (time.perf_counter() - start) / len(sample))
            print(f"  round {r + 1}/{args.rounds}  {name:<26} {ms[name][-1]:8.2f} ms/query", flush=True)

    exact_ms = statistics.median(ms["exact (brute force)"])
    print(f"\n{'':<28}{'median ms/query':>16}{'min':>8}{'max':>8}{'recall@10':>11}{'speed-up':>10}")
    for name, values in ms.items():
        med = statistics.median(values)
        print(f"{name:<28}{med:>16.2f}{min(values):>8.2f}{max(values):>8.2f}"
              f"{recall.get(name, 1.0):>11.3f}{exact_ms / med:>9.1f}x")
    print(f"\ndefault nprobe {index.settings.nprobe}; target < 10 ms/query")


if __name__ == "__main__":
    main()
