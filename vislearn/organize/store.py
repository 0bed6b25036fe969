"""The embeddings store: one safetensors file per shard of images plus a JSON manifest, updated incrementally.

``INDEX/embeddings/<embedder key>/manifest.json`` lists every embedded image (path, size, mtime, sha256,
perceptual hash, shard, row). While embedding, each finished shard is written (temp file, rename) and then
announced by one appended line in ``journal.jsonl`` (its records and failures), so an interrupted run, even
``kill -9``, keeps every finished shard (it loses at most the photos of the shard being filled), and
the cost of recording a shard does not grow with the collection (rewriting a 100,000-photo manifest after
every shard took ~10 s each). The end of a run folds the journal into the manifest (temp file, rename)
under a new ``generation``, so journal lines of an older generation are ignored. Re-running embeds only new
or changed files (path + size + mtime) and drops removed ones.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..engine.checkpoint import atomic_write_bytes, write_json
from ..errors import VislearnError
from .records import ImageRecord
from .scan import Found, Skipped

FORMAT = 1
SHARD_SIZE = 1024
JOURNAL = "journal.jsonl"


class StoreEntry(NamedTuple):
    record: ImageRecord
    shard: str
    row: int


class Embeddings(NamedTuple):
    """Everything embedded, in path order: ``embedding_nd`` (N, D) float32 unit rows, ImageNet top-5 (N, 5)."""

    records: list[ImageRecord]
    embedding_nd: np.ndarray
    top5_index: np.ndarray
    top5_prob: np.ndarray

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.records]


def record_to_json(r: ImageRecord) -> dict:
    return {**r._asdict(), "phash": f"{r.phash:016x}"}


def record_from_json(d: dict) -> ImageRecord:
    return ImageRecord(d["path"], int(d["width"]), int(d["height"]), int(d["file_bytes"]), int(d["mtime_ns"]), d["sha256"], int(d["phash"], 16))


def write_shard(path: str | Path, embedder_key: str, records: list[ImageRecord], embedding_nd: torch.Tensor,
                top5_index: torch.Tensor, top5_prob: torch.Tensor) -> Path:
    """One shard file (temp file, then rename): tensors plus its records and embedder key as metadata,
    so a shard made on another machine can be merged into a store (:meth:`EmbeddingStore.merge`)."""
    path = Path(path)
    tensors = {"embedding": embedding_nd.float().contiguous(), "top5_index": top5_index.long().contiguous(),
               "top5_prob": top5_prob.float().contiguous()}
    metadata = {"records": json.dumps([record_to_json(r) for r in records]), "embedder": embedder_key}
    atomic_write_bytes(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return path


@contextmanager
def index_lock(index_dir: str | Path):
    """Hold ``INDEX/.lock`` while a run writes the index: a second run on the same index fails at once with a clear
    error instead of interleaving shards with the first (which corrupts the store). The OS drops the lock when the
    process ends, ``kill -9`` included, so a killed run never leaves a stale lock behind."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock, as before
        yield
        return
    path = Path(index_dir) / ".lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise VislearnError(f"{index_dir}: another `vislearn organize` ({holder}) is writing this index; wait for it to finish "
                                "or give another --out") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class EmbeddingStore:
    def __init__(self, folder: str | Path, embedder_key: str, dim: int):
        self.folder = Path(folder) / "embeddings" / embedder_key.replace("/", "_")
        self.key, self.dim = embedder_key, dim
        self.entries: dict[str, StoreEntry] = {}
        self.failed: dict[str, dict] = {}  # path -> {file_bytes, mtime_ns, reason}: not retried until the file changes
        self.next_shard = 0
        self.generation = 0  # of the manifest; journal lines of other generations are already in it, or void
        manifest = self.folder / "manifest.json"
        if manifest.exists():
            self._read(json.loads(manifest.read_text()))
        self._replay_journal()

    def _read(self, data: dict) -> None:
        for d in data["records"]:
            self.entries[d["path"]] = StoreEntry(record_from_json(d), d["shard"], int(d["row"]))
        self.failed = data.get("failed", {})
        self.next_shard = int(data.get("next_shard", 0))
        self.generation = int(data.get("generation", 0))

    def _replay_journal(self) -> None:
        """Shards recorded since the manifest was written; a line cut short by a kill ends the replay."""
        journal = self.folder / JOURNAL
        if not journal.exists():
            return
        for line in journal.read_text().splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                break
            if d.get("generation") != self.generation:
                continue
            self._adopt(d["shard"], [record_from_json(r) for r in d["records"]], d["failed"])
            self.next_shard = max(self.next_shard, int(d["next_shard"]))

    def _adopt(self, shard: str, records: list[ImageRecord], failed: dict[str, dict]) -> None:
        for row, r in enumerate(records):
            self.entries[r.path] = StoreEntry(r, shard, row)
            self.failed.pop(r.path, None)
        self.failed.update(failed)

    def is_current(self, found: Found) -> bool:
        entry = self.entries.get(found.path) or self.failed.get(found.path)
        if entry is None:
            return False
        size, mtime = (entry.record.file_bytes, entry.record.mtime_ns) if isinstance(entry, StoreEntry) else (entry["file_bytes"], entry["mtime_ns"])
        return size == found.file_bytes and mtime == found.mtime_ns

    def keep_only(self, paths: set[str]) -> int:
        """Drop records (and failures) of files no longer in the collection; returns how many records went."""
        gone = [p for p in self.entries if p not in paths]
        for p in gone:
            del self.entries[p]
        self.failed = {p: v for p, v in self.failed.items() if p in paths}
        return len(gone)

    def add_shard(self, records: list[ImageRecord], embedded_nd: torch.Tensor, top5_index: torch.Tensor, top5_prob: torch.Tensor,
                  failed: list[tuple[Found, str]] = ()) -> None:
        """Write one shard file, then append the journal line that points to it (:meth:`save` folds it in)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"shard_{self.next_shard:05d}.safetensors"
        self.next_shard += 1
        if records:
            write_shard(self.folder / name, self.key, records, embedded_nd, top5_index, top5_prob)
        failures = {f.path: {"file_bytes": f.file_bytes, "mtime_ns": f.mtime_ns, "reason": reason} for f, reason in failed}
        self._adopt(name, records, failures)
        line = {"generation": self.generation, "shard": name, "next_shard": self.next_shard,
                "records": [record_to_json(r) for r in records], "failed": failures}
        with open(self.folder / JOURNAL, "a") as journal:
            journal.write(json.dumps(line) + "\n")
            journal.flush()
            os.fsync(journal.fileno())

    def merge(self, shard_files: list[str | Path]) -> int:
        """Adopt shards written elsewhere by :func:`write_shard` (e.g. one per Ray worker); returns the rows added."""
        from safetensors import safe_open

        added = 0
        for path in shard_files:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if meta.get("embedder") != self.key:
                raise VislearnError(f"{path}: embedded by {meta.get('embedder')!r}, this store holds {self.key!r}; embed with the same embedder")
            records = [record_from_json(d) for d in json.loads(meta["records"])]
            tensors = load_file(str(path))
            self.add_shard(records, tensors["embedding"], tensors["top5_index"], tensors["top5_prob"])
            added += len(records)
        self.save()
        return added

    def save(self) -> None:
        """The whole manifest (temp file, rename) under a new generation, which voids the journal; then the
        journal and the shards no record points to go."""
        self.folder.mkdir(parents=True, exist_ok=True)
        records = [record_to_json(e.record) | {"shard": e.shard, "row": e.row} for e in sorted(self.entries.values())]
        data = {"format": FORMAT, "embedder": self.key, "dim": self.dim, "next_shard": self.next_shard,
                "generation": self.generation + 1, "records": records, "failed": self.failed}
        write_json(self.folder / "manifest.json", data, indent=None)
        self.generation += 1
        (self.folder / JOURNAL).unlink(missing_ok=True)
        self._remove_dead_shards()

    def _remove_dead_shards(self) -> None:
        """Shards no record points to (all their images removed or re-embedded, or written before an interruption)."""
        live = {e.shard for e in self.entries.values()}
        for path in self.folder.glob("shard_*.safetensors*"):
            if path.name not in live:
                path.unlink()

    def failures(self) -> list[Skipped]:
        return [Skipped(p, v["reason"]) for p, v in sorted(self.failed.items())]

    def load(self) -> Embeddings:
        """All live rows, sorted by path; reads each shard once."""
        entries = sorted(self.entries.values(), key=lambda e: e.record.path)
        n = len(entries)
        embedding = np.zeros((n, self.dim), np.float32)
        index, prob = np.full((n, 5), -1, np.int64), np.zeros((n, 5), np.float32)
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for i, e in enumerate(entries):
            by_shard.setdefault(e.shard, []).append((i, e.row))
        for shard, pairs in by_shard.items():
            tensors = load_file(str(self.folder / shard))
            at, rows = (list(x) for x in zip(*pairs))
            embedding[at] = tensors["embedding"][rows].numpy()
            index[at] = tensors["top5_index"][rows].numpy()
            prob[at] = tensors["top5_prob"][rows].numpy()
        return Embeddings([e.record for e in entries], embedding, index, prob)
