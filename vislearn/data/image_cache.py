"""Images decoded once and kept in memory, so that the epochs after the first do not decode files again.

Decoding a photo (JPEG/PNG, EXIF orientation, mode conversion) often costs more than a small model's step on it: a
1,000 px JPEG trained at 64 px is decoded ~30 times in a 30-epoch run. :func:`decode_once` reads every file once
(loader processes in parallel), keeps each picture as RGB uint8 in **one flat buffer** (loader processes forked later
share it without copying), and :func:`cached_loader` serves the epochs from it through the same transforms.

- A picture whose longer side is above ``max_side`` is kept shrunk to ``max_side`` (Pillow's LANCZOS, aspect kept);
  smaller ones are kept exactly as decoded, so a run over small images gives the same batches bit for bit.
- The cache is used only when its estimated size (from the files' headers) fits ``budget_bytes``; otherwise the
  files are decoded every epoch as before. Either way :class:`CacheDecision` says what was chosen and why.
- A file that cannot be read is kept as its :class:`Problem` and reported per batch, as without the cache.
- :func:`decode_or_reuse` keeps the buffer on disk between runs (:mod:`vislearn.data.decoded_store`, keyed by the
  files' content): a second run over the same files maps it instead of decoding.
- The size estimate reads the headers of at most ``HEADERS_SAMPLED`` files spread evenly over the samples and scales
  it up (the listing already read every header): on 60,000 files a full second pass cost more than it decided.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from ..errors import ImageReadError
from .dataset import FileDataset, collate, data_loader
from .decoded import DecodedImages
from .images import read_image, size_or_problem
from .layouts import Problem, Sample

HEADERS_SAMPLED = 2000
DEFAULT_BUDGET_BYTES = 4 * 2**30  # at most 4 GiB, and at most a quarter of the machine's memory (cache_budget)


@dataclass(frozen=True)
class CacheDecision:
    """use: whether the epochs read from memory; reason: why, in words (logged); bytes: the cache's estimated size."""

    use: bool
    reason: str
    bytes: int


def cache_budget() -> int:
    """The memory a cache may take: a quarter of this machine's memory, at most DEFAULT_BUDGET_BYTES."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_BUDGET_BYTES // 4
    return int(min(DEFAULT_BUDGET_BYTES, total // 4))


def kept_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) a width x height picture is kept at: unchanged up to ``max_side``, else shrunk to it."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def estimated_bytes(samples: Sequence[Sample], max_side: int, sampled: int = HEADERS_SAMPLED) -> int:
    """Decoded bytes of ``samples`` at their kept size, from the headers of at most ``sampled`` of them spread evenly
    (every one when there are fewer), scaled up to all; unreadable files count 0."""
    picks = samples[:: max(1, -(-len(samples) // sampled))] if samples else []
    total = 0
    for sample in picks:
        size, _ = size_or_problem(sample.path)
        if size is not None:
            w, h = kept_size(*size, max_side)
            total += w * h * 3
    return round(total * len(samples) / len(picks)) if picks else 0


def decide(samples: Sequence[Sample], max_side: int, epochs: int, budget_bytes: int, mode: str = "auto") -> CacheDecision:
    """Whether to decode ``samples`` once: "off" never, "auto" (and "memory") when more than one epoch reads them and
    the estimated bytes (:func:`estimated_bytes`) fit ``budget_bytes``."""
    if mode == "off":
        return CacheDecision(False, "image cache off (--image-cache off): files are decoded every epoch", 0)
    total = estimated_bytes(samples, max_side)
    if epochs <= 1:
        return CacheDecision(False, "one epoch: nothing to gain from keeping decoded images", total)
    if total > budget_bytes:
        return CacheDecision(False, f"decoded images would take {total / 2**20:,.0f} MB, over the "
                                    f"{budget_bytes / 2**20:,.0f} MB budget: files are decoded every epoch", total)
    return CacheDecision(True, f"{len(samples):,} images decoded once and kept in memory (about {total / 2**20:,.1f} MB, "
                               f"pictures above {max_side} px kept at {max_side} px)", total)


def _decode_kept(max_side: int, sample: Sample) -> tuple:
    """(RGB uint8 pixels (H, W, 3) at their kept size, or the Problem that stopped them,)."""
    try:
        image = read_image(sample.path)
    except ImageReadError as err:
        return (Problem(err.path, err.reason),)
    size = kept_size(image.width, image.height, max_side)
    if size != image.size:
        image = image.resize(size, Image.LANCZOS)
    return (np.asarray(image, dtype=np.uint8),)


def decode_once(samples: Sequence[Sample], max_side: int, workers: int, progress: bool = False) -> DecodedImages:
    """Every sample decoded (in ``workers`` loader processes) into one buffer, in the samples' order."""
    from tqdm import tqdm

    # a plain loader over every sample: under torchrun, data_loader would deal this process only its share of them
    loader = DataLoader(FileDataset(samples, partial(_decode_kept, max_side)), batch_size=64, shuffle=False, num_workers=workers,
                        collate_fn=list)
    pictures: dict[int, np.ndarray] = {}
    problems: dict[int, Problem] = {}
    for items in tqdm(loader, desc="decoding images once", disable=not progress, leave=False, unit="batch"):
        for payload, index in items:
            if isinstance(payload, Problem):
                problems[index] = payload
            else:
                pictures[index] = payload
    shapes = np.zeros((len(samples), 2), np.int64)
    lengths = np.zeros(len(samples), np.int64)
    for index, pixels in pictures.items():
        shapes[index] = pixels.shape[:2]
        lengths[index] = pixels.size
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    buffer = np.empty(int(offsets[-1]), np.uint8)
    for index, pixels in pictures.items():
        buffer[offsets[index]:offsets[index + 1]] = pixels.reshape(-1)
    return DecodedImages(buffer, offsets, shapes, problems)


def decode_or_reuse(samples: Sequence[Sample], max_side: int, workers: int, progress: bool = False,
                    keep: bool = True, digests: Mapping[str, str] | None = None) -> tuple[DecodedImages, str]:
    """(the decoded samples, what was done, in words): mapped from the on-disk store when an entry of the same files'
    content exists, else decoded (:func:`decode_once`) and, with ``keep``, stored for the next run. ``digests``: the
    listing's {path: hex digest} (:attr:`LabelledData.digests`), so that the key reads no file the listing hashed."""
    from . import decoded_store

    folder = decoded_store.store_dir() if keep else None
    if folder is None:
        return decode_once(samples, max_side, workers, progress), "decoded (not kept on disk)"
    key = decoded_store.content_key(samples, max_side, digests)
    stored = decoded_store.load(folder, key, samples)
    if stored is not None:
        return stored, f"reused the decoded images of an earlier run with the same files ({folder / key}.u8)"
    decoded = decode_once(samples, max_side, workers, progress)
    kept = decoded_store.save(folder, key, decoded)
    return decoded, f"decoded and kept in {folder} for the next run" if kept else f"decoded ({folder} refused the copy)"


def _load_cached(transform: Callable, cache: DecodedImages, record: tuple[int, Sample]) -> tuple:
    index, sample = record
    return transform(cache.image(index)), sample.label


def cached_loader(samples: Sequence[Sample], cache: DecodedImages, transform: Callable, batch_size: int, shuffle: bool,
                  workers: int, seed: int = 0):
    """The loader :func:`vislearn.data.make_loader` makes, reading ``cache`` (decoded from ``samples``) instead of files."""
    dataset = FileDataset(list(enumerate(samples)), partial(_load_cached, transform, cache))
    return data_loader(dataset, collate, batch_size, shuffle, workers, seed)
