"""Decoded images kept on disk between runs: a second run over the same files maps them instead of decoding again.

:func:`vislearn.data.image_cache.decode_once` decodes a folder into one flat uint8 buffer. This module keeps that
buffer in a cache folder (``$VISLEARN_CACHE_DIR``, else ``$XDG_CACHE_HOME/vislearn/decoded``, else
``~/.cache/vislearn/decoded``; ``VISLEARN_CACHE_DIR=off`` keeps nothing), and maps it back (``numpy.memmap``,
copy-on-write, so pages are read only when used and never written back).

- **Keyed by content**: the key hashes (BLAKE2b) the bytes of every file in the samples' order, the kept size and
  this format's version. A file rewritten, added, removed or reordered gives another key, so a stale entry is never
  read; moving or renaming the folder keeps the key (the unreadable files are stored by position, named afresh).
  Hashing reads each file once, a few percent of decoding it, and not at all when the listing's duplicate check
  already hashed it (``LabelledData.digests``).
- **Safe**: no pickle; an entry is a raw ``.u8`` buffer, an ``.npz`` of offsets and shapes (``allow_pickle=False``)
  and a ``.json`` written last, so a half-written entry is never taken; one whose buffer size disagrees is ignored.
- **Bounded**: entries beyond ``keep_bytes`` (default 8 GiB) are deleted, least recently used first.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .decoded import DecodedImages
from .layouts import Problem, Sample

FORMAT = 1  # bump when decoding changes what a picture's pixels are
KEEP_BYTES = 8 * 2**30


def store_dir() -> Path | None:
    """The folder entries are kept in, or None when ``VISLEARN_CACHE_DIR=off``."""
    chosen = os.environ.get("VISLEARN_CACHE_DIR")
    if chosen:
        return None if chosen.lower() == "off" else Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vislearn" / "decoded"


def _file_digest(path: str) -> bytes:
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest()
    except OSError:
        return b"unreadable"


def content_key(samples: Sequence[Sample], max_side: int, digests: Mapping[str, str] | None = None) -> str:
    """A hex key of the files' bytes in order, ``max_side`` and FORMAT: equal keys mean equal decoded pictures.
    ``digests``: {path: BLAKE2b-128 hex} the listing already took (:attr:`LabelledData.digests`, the same hash):
    those files are not read again, and the key is the same as when every file is read."""
    key = hashlib.blake2b(f"vislearn-decoded-{FORMAT}-{max_side}-{len(samples)}".encode(), digest_size=20)
    known = digests or {}
    # one thread: on small files (hashlib keeps the GIL under 2 kB) 8 threads cost 2-3x the CPU for no gain
    # (10,000 Fashion-MNIST PNGs: 0.3 CPU s alone, 0.6-1.2 in 8 threads, measured at load 15)
    for sample in samples:
        hexdigest = known.get(sample.path)
        key.update(bytes.fromhex(hexdigest) if hexdigest else _file_digest(sample.path))
    return key.hexdigest()


def load(folder: Path, key: str, samples: Sequence[Sample]):
    """The stored :class:`DecodedImages` for ``key`` (buffer memory-mapped), or None when there is no whole entry."""
    meta_path = folder / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(folder / f"{key}.npz", allow_pickle=False) as arrays:
            offsets, shapes = arrays["offsets"], arrays["shapes"]
        if len(shapes) != len(samples) or (folder / f"{key}.u8").stat().st_size != int(offsets[-1]):
            return None
        buffer = (np.memmap(folder / f"{key}.u8", np.uint8, mode="c") if offsets[-1] > 0 else np.empty(0, np.uint8))
    except (OSError, ValueError, KeyError):
        return None
    os.utime(meta_path)  # recently used: pruned last
    problems = {int(i): Problem(samples[int(i)].path, reason) for i, reason in meta["problems"]}
    return DecodedImages(buffer, offsets, shapes, problems)


def _replace(path: Path, write) -> None:
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    write(partial)
    os.replace(partial, path)


def save(folder: Path, key: str, decoded, keep_bytes: int = KEEP_BYTES) -> bool:
    """Store ``decoded`` (a DecodedImages) under ``key``; False (and nothing kept) when the disk refuses it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _replace(folder / f"{key}.u8", lambda p: decoded.buffer.tofile(p))
        _replace(folder / f"{key}.npz", lambda p: p.write_bytes(_npz_bytes(decoded.offsets, decoded.shapes)))
        meta = {"format": FORMAT, "images": len(decoded), "problems": [[i, p.reason] for i, p in sorted(decoded.problems.items())]}
        _replace(folder / f"{key}.json", lambda p: p.write_text(json.dumps(meta)))
    except OSError:
        return False
    prune(folder, keep_bytes)
    return True


def _npz_bytes(offsets: np.ndarray, shapes: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.savez(out, offsets=offsets, shapes=shapes)
    return out.getvalue()


def prune(folder: Path, keep_bytes: int) -> list[str]:
    """Delete the least recently used entries until the rest fit ``keep_bytes``; returns the deleted keys."""
    entries = []
    for meta in folder.glob("*.json"):
        key = meta.stem
        size = sum((folder / f"{key}{ext}").stat().st_size for ext in (".u8", ".npz", ".json") if (folder / f"{key}{ext}").exists())
        entries.append((meta.stat().st_mtime, key, size))
    total, deleted = sum(e[2] for e in entries), []
    for _, key, size in sorted(entries):
        if total <= keep_bytes:
            break
        for ext in (".json", ".npz", ".u8"):
            (folder / f"{key}{ext}").unlink(missing_ok=True)
        total -= size
        deleted.append(key)
    return deleted
