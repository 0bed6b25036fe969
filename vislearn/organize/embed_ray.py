"""The embedding step of ``vislearn organize DIR --out INDEX --engine ray``: new and changed photos embedded on a Ray
cluster, in the store's shard format, then merged into the store; grouping, naming and indexing run as without Ray.

The photos to embed are cut into fixed chunks (:mod:`vislearn.engine.ray_jobs`; a chunk is named by the hash of its
paths, sizes and modification times); each Ray actor builds the embedder once and writes one store shard per chunk
into ``INDEX/ray-shards/<embedder key>/`` (:func:`~vislearn.organize.store.write_shard`). A killed job re-run skips
the finished chunks; the driver merges every chunk's shard (:meth:`EmbeddingStore.merge`), then removes them.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..data.images import MAX_PIXELS
from ..data.transforms import eval_transform
from ..engine.ray_jobs import CHUNK_SIZE, chunks, one_thread_per_actor, pending, run_chunks
from ..errors import VislearnError
from ..models.backbones import Preprocessing
from .embed import CollectionDataset, Update, collate, embed_batch, pick_runner, plan_update
from .embedders import Embedder, create_embedder
from .scan import Found
from .store import EmbeddingStore, write_shard

SUFFIX = ".safetensors"


class EmbedderSpec(NamedTuple):
    """What an actor needs to build the same embedder as the driver: its name, weights file and input size."""

    name: str
    weights: str | None
    image_size: int


class EmbedChunk:
    """A Ray Data callable class: the embedder builds once per actor, then each call embeds one chunk into its shard."""

    def __init__(self, spec: EmbedderSpec, backend: str, shard_dir: str, batch_size: int, max_pixels: int):
        one_thread_per_actor()
        self.embedder = create_embedder(spec.name, weights=spec.weights, image_size=spec.image_size)
        self.shard_dir = Path(shard_dir)
        # "auto" times backends only for large updates; a chunk is small, so the actors use torch as the driver would
        self.backend, self.run = pick_runner(self.embedder, backend, self.shard_dir, 0)
        e = self.embedder
        self.transform = eval_transform(Preprocessing(e.mean, e.std, e.image_size))
        self.batch_size, self.max_pixels = batch_size, max_pixels

    def __call__(self, batch: dict) -> dict:
        name = str(batch["name"][0])
        found = [Found(*json.loads(line)) for line in str(batch["paths"][0]).split("\n")]
        items = CollectionDataset(found, self.transform, self.max_pixels)
        records, parts, failed = [], [], []
        for start in range(0, len(found), self.batch_size):
            images, got, problems = collate([items[i] for i in range(start, min(start + self.batch_size, len(found)))])
            failed += [(found[i].path, reason) for i, reason in problems]
            if got:
                records += got
                parts.append(embed_batch(self.embedder, self.run, images))
        embedding, index, prob = (torch.cat(p) for p in zip(*parts)) if parts else (torch.empty(0, self.embedder.dim),) + (torch.empty(0, 5),) * 2
        write_shard(self.shard_dir / f"{name}{SUFFIX}", self.embedder.key, records, embedding, index, prob)
        return {"name": np.array([name]), "embedded": np.array([len(records)]), "failed": np.array([json.dumps(failed)])}


def update_store_on_ray(store: EmbeddingStore, embedder: Embedder, found: list[Found], index_dir: str | Path, spec: EmbedderSpec,
                        batch_size: int = 32, backend: str = "auto", address: str | None = None, actors: int | None = None,
                        shard_size: int = CHUNK_SIZE, max_pixels: int = MAX_PIXELS, log: Callable[[str], None] = print) -> Update:
    """As :func:`vislearn.organize.embed.update_store`, with the embedding on Ray; ``spec`` rebuilds ``embedder`` in each actor."""
    if spec.name == "self-supervised":
        raise VislearnError("--engine ray embeds with lite0 or openclip:ARCH; the self-supervised embedder learns on the photos "
                            "in this process (organize without --engine ray)")
    todo, reused, removed = plan_update(store, found)
    if not todo:
        return Update(0, reused, removed, 0, 0.0, "none")
    shard_dir = Path(index_dir) / "ray-shards" / store.key.replace("/", "_")
    shard_dir.mkdir(parents=True, exist_ok=True)
    everything = chunks([json.dumps([f.path, f.file_bytes, f.mtime_ns]) for f in todo], shard_size)
    left = pending(everything, shard_dir, SUFFIX)
    log(f"embedding {len(todo)} new or changed images ({reused} already embedded) with {embedder.name} on Ray: "
        f"{len(everything)} shards, {len(everything) - len(left)} finished earlier (skipped)")
    start = time.perf_counter()
    rows = run_chunks(left, EmbedChunk, (spec, "torch" if backend == "auto" else backend, str(shard_dir), batch_size, max_pixels),
                      actors, address, log)
    by_path = {f.path: f for f in todo}
    failed = [(by_path[p], reason) for r in rows for p, reason in json.loads(str(r["failed"]))]
    if failed:
        store.add_shard([], torch.empty(0), torch.empty(0), torch.empty(0), failed)  # not retried until the file changes
    files = [shard_dir / f"{c.name}{SUFFIX}" for c in everything]
    added = store.merge(files)
    for f in files:
        f.unlink()
    speed = sum(int(r["embedded"]) for r in rows) / max(time.perf_counter() - start, 1e-9)
    return Update(added, reused, removed, len(failed), speed, "ray")
