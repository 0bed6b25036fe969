"""`vislearn organize` at scale: builds an N-image collection (default 100,000) and prints each stage's
wall time and images/s, the peak resident memory (this process and its loader workers) and the total time.

The collection (built once under /tmp/vislearn-bench/scale/, about 3 KB per image) mixes three sources,
each image an augmented crop (random crop, size, flip, brightness, JPEG or PNG) under a random name in
folders of 1,000:

* 40 % crops of 15 scikit-image photos and textures (astronaut, coffee, brick, grass, gravel, ...), 64-160 px
* 40 % Fashion-MNIST items (Debian ``dataset-fashion-mnist``, 70,000 distinct), 40-96 px grey
* 20 % scikit-learn digits (1,797 distinct, shifted and scaled), 32-64 px grey

and 1 % of the images get a planted copy (one of :data:`vislearn.organize.planted.COPIES`: resized,
recompressed, cropped, brightened, EXIF-rotated, converted, edited); their (original, copy) pairs go to
``<folder>.planted.json`` beside the collection, and the benchmark prints the share found as exact/near.

    .venv/bin/python benchmarks/organize_scale.py --images 5000                      # Lite0 at 224 px (the default)
    .venv/bin/python benchmarks/organize_scale.py --images 100000 --image-size 64    # cheaper embedding
    .venv/bin/python benchmarks/organize_scale.py --images 100000 --reuse-embeddings 10000

``--reuse-embeddings M`` embeds only M images (or takes the at least M already in ``--index``, e.g. an
interrupted full run's) and gives every other image the stored embedding of one of those plus noise (a
clearly synthetic stand-in, labelled so in the output): the stages after embedding (duplicates, kNN graph,
grouping, naming, search index, outputs, gallery) then run on all N images.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
from organize_collection import PER_FOLDER, ROOT, build_collection, sources_of


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory in MB of this process and of its largest finished child (loader workers)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def synthetic_embeddings(emb, n_total: int, records, seed: int = 0):
    """N rows for ``records``: row i is a random stored row (of the M embedded) plus Gaussian noise (0.3 of its
    norm), renormalised; top-5 copied. A stand-in that keeps the stages after embedding honest about memory
    and time at N, not about the groups they find."""
    from vislearn.organize.store import Embeddings

    rng = np.random.default_rng(seed)
    source = rng.integers(len(emb.records), size=n_total)
    source[: len(emb.records)] = np.arange(len(emb.records))
    x = np.empty((n_total, emb.embedding_nd.shape[1]), np.float32)
    for start in range(0, n_total, 8192):
        rows = emb.embedding_nd[source[start:start + 8192]]
        rows = rows + rng.normal(0, 0.3 / np.sqrt(rows.shape[1]), rows.shape).astype(np.float32)
        x[start:start + 8192] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return Embeddings(records, x, emb.top5_index[source], emb.top5_prob[source])


def run_reusing(folder: Path, index: Path, options, m: int):
    """Scan all N files, embed M of them for real, then the stages after embedding on N synthetic rows."""
    from vislearn.data.images import read_file_bytes, read_image_bytes
    from vislearn.organize.embed import Update, update_store
    from vislearn.organize.progress import StageClock, progress_bar
    from vislearn.organize.records import ImageRecord, perceptual_hash, sha256_hex
    from vislearn.organize.scan import Found, scan
    from vislearn.organize.store import EmbeddingStore
    from vislearn.tasks.organize.index import describe_collection, load_embedder

    clock = StageClock(lambda m_: print(m_, file=sys.stderr, flush=True))
    with clock("scan", 0):
        found = sorted((f for f in scan(folder, exclude=[index]) if isinstance(f, Found)), key=lambda f: f.path)
    embedder = load_embedder(options, index)
    store = EmbeddingStore(index, embedder.key, embedder.dim)
    sample = sorted(random.Random(0).sample(found, min(m, len(found))), key=lambda f: f.path)
    with clock("embed", len(sample)):
        if len(store.entries) >= len(sample):  # e.g. an interrupted full run's index: use what it embedded
            update = Update(0, len(store.entries), 0, 0, 0.0, "none")
        else:
            update = update_store(store, embedder, sample, index, options.batch_size, options.workers, options.backend)
        emb = store.load()
    with clock("hashing (synthetic run: the rest's records)", len(found)):
        by_path = {r.path: r for r in emb.records}
        records = []
        for f in progress_bar(found, desc="hashing"):
            if f.path not in by_path:
                data = read_file_bytes(f.path)
                image = read_image_bytes(data, f.path)
                by_path[f.path] = ImageRecord(f.path, image.width, image.height, f.file_bytes, f.mtime_ns, sha256_hex(data), perceptual_hash(image))
            records.append(by_path[f.path])
    # the embedded M come first, in the store's order; the rest borrow their rows
    embedded = {e.path for e in emb.records}
    rest = [r for r in records if r.path not in embedded]
    synthetic = synthetic_embeddings(emb, len(records), list(emb.records) + rest)
    del emb
    return describe_collection(folder, index, synthetic, embedder, [], update, options,
                               lambda m_: print(m_, file=sys.stderr, flush=True), True, clock)


def duplicate_stage(index: Path, planted: list[tuple[str, str]], n: int, n_collection: int, workers: int = -1) -> None:
    """The duplicate stage alone on the first ``n`` images of the collection (its first n / 1,000 folders: the
    collection the generator builds for ``--images n``, planted copies included) with the embeddings stored in
    ``index`` by an earlier full run: candidates, pre-judge, full pixel test, groups; prints what each step cost
    and the planted copies found; writes ``index/duplicates-first-<n>/duplicates.csv`` and audits every removal against
    the ground truth (:mod:`organize_truth`)."""
    from _common import cpu_seconds
    from organize_truth import print_audit

    from vislearn.organize.duplicates import duplicates_summary, find_duplicates
    from vislearn.organize.outputs import write_duplicates
    from vislearn.organize.store import EmbeddingStore

    stored = sorted(p.parent.name for p in (index / "embeddings").glob("*/manifest.json"))  # organize.json: written last
    folders = {f"batch_{k:04d}" for k in range(-(-n // PER_FOLDER))}
    store = EmbeddingStore(index, stored[0], 0)
    store.dim = json.loads((store.folder / "manifest.json").read_text())["dim"]
    store.entries = {p: e for p, e in store.entries.items() if Path(p).parent.name in folders}
    emb = store.load()
    start, cpu_start = time.perf_counter(), cpu_seconds()
    groups = find_duplicates(emb.records, emb.embedding_nd, progress=True, workers=workers)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    j = groups.judging
    paths = set(emb.paths)
    inside = [(a, b) for a, b in planted if a in paths and b in paths]
    group_of = {p: k for k, g in enumerate(groups) if g.kind != "similar" for p in [g.keep, *g.remove]}
    found = sum(1 for a, b in inside if a in group_of and group_of[a] == group_of.get(b))
    print(f"\nduplicate stage on {len(emb.records):,} images (the first {len(folders)} folders of the collection, "
          f"stored Lite0 embeddings): {seconds:.1f} s in all, {cpu:.1f} CPU seconds (this process and its full-test workers)")
    print(duplicates_summary(groups))
    own, children = peak_rss_mb()
    print(f"peak RSS: this process {own:,.0f} MB, largest worker {children:,.0f} MB")
    print(f"{'step':<52}{'pairs':>10}{'seconds':>10}{'ms/pair':>10}")
    for step, pairs, secs in (("candidate pairs (hashes + FAISS neighbours)", j.candidates, j.candidate_seconds),
                              ("reading thumbnails", j.screened, j.read_seconds),
                              ("pre-judge (batched, torch)", j.screened, j.prejudge_seconds),
                              ("full pixel test", j.judged, j.judge_seconds),
                              ("groups: members against the kept file (pre-judge + full)", j.grouping_judged, j.grouping_seconds)):
        print(f"{step:<52}{pairs:>10,}{secs:>10.1f}{1000 * secs / max(pairs, 1):>10.2f}")
    print(f"rejected by the pre-judge {j.rejected:,} (residual) + {j.off_geometry:,} (rough alignment), skipped (already "
          f"one group) {j.skipped:,}, judged in full {j.judged:,} over {j.workers} processes; planted copies found "
          f"{found}/{len(inside)}; removals {sum(len(g.remove) for g in groups):,}")
    out = index / f"duplicates-first-{n}"
    out.mkdir(exist_ok=True)
    write_duplicates(out, groups)
    print_audit(out / "duplicates.csv", sources_of(n_collection))


def planted_found(index: Path, planted: list[tuple[str, str]]) -> tuple[int, int, int]:
    """(planted copies found as exact/near, planted copies, removals that are not a planted copy)."""
    with open(index / "duplicates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    group_of = {r["path"]: r["duplicate_group"] for r in rows if r["kind"] != "similar"}
    found = sum(1 for a, b in planted if a in group_of and group_of.get(a) == group_of.get(b))
    copies = {b for _, b in planted} | {a for a, _ in planted}
    other_removals = sum(1 for r in rows if r["suggestion"] == "remove" and r["path"] not in copies)
    return found, len(planted), other_removals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000, help="images in the collection (planted copies included)")
    parser.add_argument("--image-size", type=int, default=224, help="pixels the embedder sees (organize --image-size)")
    parser.add_argument("--reuse-embeddings", type=int, default=0, metavar="M",
                        help="embed only M images; the rest get synthetic rows (an M row plus noise)")
    parser.add_argument("--duplicates-only", type=int, default=0, metavar="N",
                        help="only the duplicate stage, on the first N images, with the embeddings of an earlier run in --index")
    parser.add_argument("--workers", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--index", help="index folder (default: beside the collection; kept, so a re-run resumes)")
    args = parser.parse_args()

    from vislearn.tasks.organize.index import OrganizeOptions, organize

    start = time.perf_counter()
    folder, planted = build_collection(args.images)
    built = time.perf_counter() - start
    suffix = f"-reuse{args.reuse_embeddings}" if args.reuse_embeddings else ""
    index = Path(args.index or ROOT / f"index-{args.images}-{args.image_size}{suffix}")
    options = OrganizeOptions(image_size=args.image_size, workers=args.workers, batch_size=args.batch_size)
    if args.duplicates_only:
        duplicate_stage(index, planted, args.duplicates_only, args.images, args.workers)
        return
    start = time.perf_counter()
    if args.reuse_embeddings:
        result = run_reusing(folder, index, options, args.reuse_embeddings)
    else:
        result = organize(folder, index, options, log=lambda m: print(m, file=sys.stderr, flush=True))
    total = time.perf_counter() - start
    own, children = peak_rss_mb()
    real = result.update.embedded + result.update.reused
    kind = (f"SYNTHETIC: {real:,} embedded for real, the other rows an embedded row plus noise"
            if args.reuse_embeddings else "all embedded for real")
    print(f"\n{result.n_images:,} images ({kind}); Lite0 at {args.image_size} px; collection built in {built:.0f} s (not counted)")
    print(f"{'stage':<48}{'seconds':>10}{'images/s':>12}")
    for stage, seconds in result.stage_seconds.items():
        n = result.update.embedded if stage == "embed" else result.n_images
        print(f"{stage:<48}{seconds:>10.1f}{n / max(seconds, 1e-9):>12,.0f}")
    print(f"{'total':<48}{total:>10.1f}{result.n_images / total:>12,.0f}")
    print(f"embedded {result.update.embedded:,} ({result.update.images_per_second:.1f} img/s on {result.update.backend}), "
          f"reused {result.update.reused:,}")
    print(f"groups {result.n_groups} (+{result.n_other} other)")
    found, n_planted, other_removals = planted_found(index, planted)
    print(f"duplicate groups {result.n_duplicate_groups}; planted copies found {found}/{n_planted}; "
          f"removals that are not a planted copy or its original: {other_removals}")
    print(f"peak RSS: this process {own:,.0f} MB, largest loader worker {children:,.0f} MB")
    from organize_truth import print_audit

    print_audit(index / "duplicates.csv", sources_of(args.images))


if __name__ == "__main__":
    main()
