"""Embed a very large collection on many machines with Ray Data, then merge into one vislearn index.

Not run in CI (Ray is not a vislearn dependency): ``pip install "ray[data]"`` on the cluster first.
Every worker uses the same embedder and writes shards in vislearn's store format (``write_shard``);
the driver merges them (``EmbeddingStore.merge``) and the usual ``vislearn organize DIR --out INDEX``
then finds every photo already embedded and only groups, names and indexes.

    python benchmarks/ray_embed.py /shared/photos /shared/index --shards /shared/shards --image-size 224
"""
from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import numpy as np
import torch


class EmbedBatch:
    """A Ray Data callable class: the model loads once per worker, then embeds batches of paths into shard files."""

    def __init__(self, shard_dir: str, image_size: int):
        from vislearn.organize.embedders import create_embedder

        self.embedder = create_embedder("lite0", image_size=image_size)
        self.shard_dir = Path(shard_dir)

    def __call__(self, batch: dict) -> dict:
        from vislearn.data.transforms import eval_transform
        from vislearn.models.backbones import Preprocessing
        from vislearn.organize.embed import CollectionDataset, collate
        from vislearn.organize.scan import Found
        from vislearn.organize.store import write_shard

        e = self.embedder
        found = [Found(p, int(s), int(m)) for p, s, m in zip(batch["path"], batch["file_bytes"], batch["mtime_ns"])]
        items = CollectionDataset(found, eval_transform(Preprocessing(e.mean, e.std, e.image_size)))
        images, records, problems = collate([items[i] for i in range(len(found))])
        if records:
            with torch.inference_mode():
                out = e.split(e.model.eval()(images))
            write_shard(self.shard_dir / f"{uuid.uuid4().hex}.safetensors", e.key, records, out.embedding_nd, out.top5_index, out.top5_prob)
        return {"embedded": np.array([len(records)]), "failed": np.array([len(problems)])}


def main() -> None:
    import ray

    from vislearn.organize.embedders import create_embedder
    from vislearn.organize.scan import Found, scan
    from vislearn.organize.store import EmbeddingStore

    parser = argparse.ArgumentParser()
    parser.add_argument("collection")
    parser.add_argument("index")
    parser.add_argument("--shards", required=True, help="folder on shared storage for the workers' shard files")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=8, help="Ray actors (one model each)")
    args = parser.parse_args()
    Path(args.shards).mkdir(parents=True, exist_ok=True)
    found = [f for f in scan(args.collection, exclude=[args.index, args.shards]) if isinstance(f, Found)]
    embedder = create_embedder("lite0", image_size=args.image_size)
    store = EmbeddingStore(args.index, embedder.key, embedder.dim)
    store.keep_only({f.path for f in found})
    todo = [f._asdict() for f in found if not store.is_current(f)]  # only new or changed photos travel
    ray.init()
    counts = (ray.data.from_items(todo)
              .map_batches(EmbedBatch, fn_constructor_args=(args.shards, args.image_size), batch_size=args.batch_size,
                           concurrency=args.workers, batch_format="numpy")
              .sum(["embedded", "failed"]))
    added = store.merge(sorted(Path(args.shards).glob("*.safetensors")))
    print(f"embedded {counts} on the cluster; merged {added} rows into {store.folder}. "
          f"Now run: vislearn organize {args.collection} --out {args.index} --image-size {args.image_size}")


if __name__ == "__main__":
    main()
