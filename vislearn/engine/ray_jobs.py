"""Work spread over a Ray cluster in resumable chunks: the sorted input list cut into fixed chunks, each named by a
hash of its paths, run through ``ray.data`` ``map_batches`` on a pool of actors (the model loads once per actor).

Each actor writes its chunk's output file itself (temp file, then rename), so a file that exists is finished; a
re-run over the same list finds the same names and skips those chunks. Ray is optional (``pip install 'vislearn[ray]'``)
and imported only here, when a ``--engine ray`` job starts.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import VislearnError

INSTALL_HINT = "pip install 'vislearn[ray]'"
CHUNK_SIZE = 256  # images per output shard: small enough that a killed job loses little, large enough that a shard's start-up is noise


class Chunk(NamedTuple):
    """One fixed slice of the sorted input: its shard ``name`` (hash of its paths) and the ``paths``."""

    name: str
    paths: tuple[str, ...]


def import_ray():
    """The ``ray`` module with ``ray.data``; a clear error naming the install command without it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise VislearnError(f"--engine ray needs Ray Data, which is not installed: {INSTALL_HINT}") from None
    return ray


def chunks(paths: Sequence[str], size: int = CHUNK_SIZE) -> list[Chunk]:
    """``paths`` sorted and cut into chunks of ``size``, each named by the sha1 of its paths (16 hex digits): the same
    list gives the same names on every run, and a chunk whose paths changed gets a new name."""
    ordered = sorted(set(map(str, paths)))
    out = []
    for start in range(0, len(ordered), size):
        part = tuple(ordered[start:start + size])
        out.append(Chunk(hashlib.sha1("\n".join(part).encode()).hexdigest()[:16], part))
    return out


def pending(all_chunks: list[Chunk], shard_dir: Path, suffix: str) -> list[Chunk]:
    """The chunks without a finished ``<name><suffix>`` in ``shard_dir``; temp files a killed job left are removed
    (:func:`vislearn.files.atomic_write_bytes` names them ``.<name>.<random>.tmp``)."""
    for stale in shard_dir.glob(f".*{suffix}.*.tmp"):
        stale.unlink(missing_ok=True)
    return [c for c in all_chunks if not (shard_dir / f"{c.name}{suffix}").exists()]


def connect(address: str | None, log: Callable[[str], None]):
    """Join the cluster at ``address`` ("auto": the one started with ``ray start``), or start a local one on this
    machine's cores; an already connected driver (a test's cluster) is kept."""
    ray = import_ray()
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # vislearn logs what it decided; Ray Data's plan lines are noise here
    how = "already connected"
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        how = f"at {address}" if address else "local, started for this job"
    log(f"Ray cluster: {int(ray.cluster_resources().get('CPU', 1))} CPUs ({how})")
    return ray


def run_chunks(todo: list[Chunk], worker: type, worker_args: tuple, actors: int | None, address: str | None,
               log: Callable[[str], None], progress: bool = False) -> list[dict[str, Any]]:
    """Run ``worker(*worker_args)`` (a callable class: one per actor) over ``todo``, one chunk per call.

    The worker receives ``{"name": (1,), "paths": (1,)}`` (paths joined by newlines) and returns a dict of
    1-element arrays (its counts); the rows of all chunks come back in chunk order. ``actors`` None: one per CPU.
    """
    if not todo:
        return []
    ray = connect(address, log)
    size = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ray.data.DataContext.get_current().enable_progress_bars = progress
    items = [{"name": c.name, "paths": "\n".join(c.paths)} for c in todo]
    log(f"running {len(todo)} chunks on {size} Ray actor{'s' if size > 1 else ''} (one model each)")
    rows = (ray.data.from_items(items)
            .map_batches(worker, fn_constructor_args=worker_args, batch_size=1, batch_format="numpy",
                         compute=ray.data.ActorPoolStrategy(size=size), num_cpus=1)
            .take_all())
    order = {c.name: i for i, c in enumerate(todo)}
    return sorted(rows, key=lambda r: order[str(r["name"])])


def one_thread_per_actor() -> None:
    """An actor holds one CPU: torch and ONNX Runtime threads beyond it would fight the other actors."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
