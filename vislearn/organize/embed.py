"""Embed the new and changed images of a collection into the store: parallel decoding, fastest backend, shards."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.images import MAX_PIXELS, read_file_bytes, read_image_bytes
from ..data.transforms import eval_transform
from ..engine.device import default_workers
from ..engine.predict import BACKENDS, fastest_backend
from ..errors import ImageReadError
from ..models.backbones import Preprocessing
from .embedders import Embedder
from .progress import progress_bar
from .records import record_of
from .scan import Found
from .store import JOURNAL, SHARD_SIZE, EmbeddingStore

AUTOTUNE_ABOVE = 512  # timing backends costs seconds: only worth it for larger batches of new images


class Update(NamedTuple):
    embedded: int  # images embedded in this run
    reused: int  # already in the store (same path, size, mtime)
    removed: int  # records dropped: the file is gone from the collection
    failed: int  # could not be decoded (listed by ``store.failures()``)
    images_per_second: float
    backend: str


class CollectionDataset(Dataset):
    """Decodes in loader workers: (image_chw, index, ImageRecord) or (None, index, reason).

    Each file is read once: its bytes give both the sha256 and the pixels."""

    def __init__(self, found: list[Found], transform, max_pixels: int = MAX_PIXELS):
        self.found, self.transform, self.max_pixels = found, transform, max_pixels

    def __len__(self) -> int:
        return len(self.found)

    def __getitem__(self, i: int):
        f = self.found[i]
        try:
            data = read_file_bytes(f.path)
            image = read_image_bytes(data, f.path, self.max_pixels)
            record = record_of(f.path, data, image, f.mtime_ns)._replace(file_bytes=f.file_bytes)
            return self.transform(image), i, record
        except ImageReadError as err:  # includes a file that vanished or became unreadable since the scan
            return None, i, err.reason


def collate(items: list):
    good = [it for it in items if it[0] is not None]
    images = torch.stack([it[0] for it in good]) if good else torch.empty(0)
    return images, [it[2] for it in good], [(it[1], it[2]) for it in items if it[0] is None]


def pick_runner(embedder: Embedder, backend: str, index_dir: Path, todo: int) -> tuple[str, Callable]:
    onnx_path = index_dir / "embedders" / f"{embedder.key}.onnx"
    candidates = {"onnx": {"onnx_path": onnx_path}, "torch": {}} if embedder.onnx_ok else {"torch": {}}
    if backend == "auto":
        backend = "torch"
        if embedder.onnx_ok and todo >= AUTOTUNE_ABOVE:
            backend = fastest_backend(embedder.model, embedder.image_size, candidates, batch=8, repeats=2)
    options = candidates.get(backend, {})
    return backend, BACKENDS.get(backend)(embedder.model, image_size=embedder.image_size, **options)


def plan_update(store: EmbeddingStore, found: list[Found]) -> tuple[list[Found], int, int]:
    """(new or changed files to embed, files already embedded, records dropped): removed files leave the store, and a
    killed run's journal is folded in even when nothing is new."""
    removed = store.keep_only({f.path for f in found})
    current = {f.path for f in found if store.is_current(f)}
    reused = sum(1 for path in current if path in store.entries)  # known failures are not "reused"
    if removed or (store.folder / JOURNAL).exists():
        store.save()
    return [f for f in found if f.path not in current], reused, removed


def embed_batch(embedder: Embedder, run: Callable, images_bchw: torch.Tensor):
    """(embedding (B, D), top5_index (B, 5), top5_prob (B, 5)) of a batch of preprocessed images."""
    out = embedder.split(run(images_bchw))
    return out.embedding_nd, out.top5_index, out.top5_prob


def update_store(store: EmbeddingStore, embedder: Embedder, found: list[Found], index_dir: str | Path, batch_size: int = 32,
                 workers: int = -1, backend: str = "auto", max_pixels: int = MAX_PIXELS, progress: bool = True,
                 log: Callable[[str], None] = print) -> Update:
    """Bring ``store`` up to date with ``found`` (the scan): drop removed files, embed new or changed ones."""
    todo, reused, removed = plan_update(store, found)
    if not todo:
        return Update(0, reused, removed, 0, 0.0, "none")
    backend, run = pick_runner(embedder, backend, Path(index_dir), len(todo))
    log(f"embedding {len(todo)} new or changed images ({reused} already embedded) with {embedder.name} on {backend}")
    pre = Preprocessing(embedder.mean, embedder.std, embedder.image_size)
    workers = default_workers() if workers < 0 else workers
    loader = DataLoader(CollectionDataset(todo, eval_transform(pre), max_pixels), batch_size=batch_size, num_workers=workers,
                        collate_fn=collate, persistent_workers=False)
    buffer: dict[str, list] = {"records": [], "embedding": [], "index": [], "prob": []}
    failed, n_failed, done, start = [], 0, 0, time.perf_counter()

    def flush() -> None:
        nonlocal failed
        cat = (lambda xs: torch.cat(xs) if xs else torch.empty(0))
        store.add_shard(buffer["records"], cat(buffer["embedding"]), cat(buffer["index"]), cat(buffer["prob"]), failed)
        for v in buffer.values():
            v.clear()
        failed = []

    with progress_bar(total=len(todo), enabled=progress, desc="embedding", leave=True) as bar:
        for images, records, problems in loader:
            failed += [(todo[i], reason) for i, reason in problems]
            n_failed += len(problems)
            if len(records):
                embedding, index, prob = embed_batch(embedder, run, images)
                buffer["records"] += records
                buffer["embedding"].append(embedding)
                buffer["index"].append(index)
                buffer["prob"].append(prob)
                done += len(records)
            bar.update(len(records) + len(problems))
            if len(buffer["records"]) >= SHARD_SIZE:
                flush()
    if buffer["records"] or failed:
        flush()
    store.save()  # the journal of this run's shards folded into the manifest
    speed = done / max(time.perf_counter() - start, 1e-9)
    return Update(done, reused, removed, n_failed, speed, backend)
