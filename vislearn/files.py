"""Files every layer writes or reads the same way: atomic writes, JSON, and the note of a file that was left out.

Core: imports nothing of vislearn but :mod:`vislearn.errors`, so data readers and the engine can share it.
"""
from __future__ import annotations

import csv
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError


@dataclass(frozen=True)
class Problem:
    """A file left out (unreadable, not an image, outside any class folder...) and the reason, for the log and report."""

    path: str
    reason: str


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``: a crash leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    mode = stat.S_IMODE(os.stat(tmp).st_mode)  # 0o666 less the umask, as for any new file
    try:
        write(tmp)
        os.chmod(tmp, mode)  # mkstemp and safetensors' save_file make 0o600 files: a run folder others cannot read
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, obj, indent: int | None = 2) -> None:
    """``obj`` as JSON, atomically (temp file, rename); ``indent=None`` for one compact line (large indexes)."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=indent, default=float)

    atomic_write_bytes(Path(path), write)


def write_csv_rows(path: str | Path, rows: list[dict], fields: list[str]) -> None:
    """``rows`` (dicts keyed by ``fields``) as a CSV with a header line, atomically."""
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write_bytes(Path(path), write)


def read_json(path: str | Path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable JSON ({exc})") from None
