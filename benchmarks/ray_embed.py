"""Embedding throughput of ``vislearn organize --engine ray`` (1 and 2 actors) against the local embedding step.

A thin wrapper over the product: the Ray path is :func:`vislearn.organize.embed_ray.update_store_on_ray` (what
``vislearn organize DIR --out INDEX --engine ray`` runs before grouping), the local one
:func:`vislearn.organize.embed.update_store`; each embeds the same photo crops into a fresh store, on a local Ray
cluster started once before timing (its actors' start-up is counted).

    .venv/bin/python benchmarks/ray_embed.py --count 256 --image-size 224
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import photo_files  # noqa: E402

from vislearn.organize.embed import update_store  # noqa: E402
from vislearn.organize.embed_ray import EmbedderSpec, update_store_on_ray  # noqa: E402
from vislearn.organize.embedders import create_embedder  # noqa: E402
from vislearn.organize.scan import Found, scan  # noqa: E402
from vislearn.organize.store import EmbeddingStore  # noqa: E402


def timed(embed) -> float:
    index = Path(tempfile.mkdtemp(prefix="vislearn-rayembed-"))
    try:
        start = time.perf_counter()
        embed(index)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(index, ignore_errors=True)


def main() -> None:
    import ray

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--cpus", type=int, default=2)
    args = p.parse_args()
    files = photo_files(args.count)
    found = [f for f in scan(files[0].parent) if isinstance(f, Found)]
    embedder = create_embedder("lite0", image_size=args.image_size)
    spec = EmbedderSpec("lite0", None, args.image_size)
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    def quiet(_: str) -> None:
        pass

    def local(index):
        update_store(EmbeddingStore(index, embedder.key, embedder.dim), embedder, found, index, backend="torch", progress=False, log=quiet)

    base = timed(local)
    print(f"{len(found)} photos, lite0 at {args.image_size} px, torch backend everywhere")
    print(f"local (loader workers + one process): {base:.1f} s, {len(found) / base:.1f} img/s")
    for actors in (1, 2):
        def on_ray(index, actors=actors):
            update_store_on_ray(EmbeddingStore(index, embedder.key, embedder.dim), embedder, found, index, spec, backend="torch",
                                actors=actors, shard_size=args.shard_size, log=quiet)

        wall = timed(on_ray)
        print(f"Ray, {actors} actor(s): {wall:.1f} s, {len(found) / wall:.1f} img/s, {base / wall:.2f}x local")
    ray.shutdown()


if __name__ == "__main__":
    main()
