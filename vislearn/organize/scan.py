"""Walk a photo collection without loading it: which files are images, which are skipped and why.

Read-only: files are stat'ed and (for unknown extensions) their header sniffed; nothing is ever written.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator, NamedTuple

from PIL import Image, UnidentifiedImageError

from ..data.images import is_image_file

IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class Found(NamedTuple):
    """A file that looks like an image; decoding it may still fail later (then it is skipped)."""

    path: str
    file_bytes: int
    mtime_ns: int


class Skipped(NamedTuple):
    path: str
    reason: str


def _sniff_is_image(path: str) -> bool:
    """Header check for files without an image extension (photos saved without one)."""
    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False


def _check_file(path: str, st: os.stat_result) -> Found | Skipped | None:
    if st.st_size == 0:
        return Skipped(path, "empty file (0 bytes)")
    if is_image_file(path) or _sniff_is_image(path):
        return Found(path, st.st_size, st.st_mtime_ns)
    return Skipped(path, f"not an image ({Path(path).suffix or 'no extension'}, header not a known image format)")


def scan(root: str | Path, exclude: list[str | Path] = ()) -> Iterator[Found | Skipped]:
    """Yield every file under ``root`` once, in sorted order, as :class:`Found` or :class:`Skipped`.

    Symlinked folders are followed, but each real folder is visited once (symlink loops end); a file
    reached twice (hard link, symlink) is reported once as found and then as skipped duplicate path.
    Folders in ``exclude`` (e.g. the index folder inside the collection) are not entered.
    """
    root = Path(root)
    excluded = {os.path.realpath(p) for p in exclude}
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], str] = {}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            yield Skipped(folder, f"cannot open folder: {exc.strerror}")
            continue
        if (st.st_dev, st.st_ino) in seen_dirs or os.path.realpath(folder) in excluded:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield Skipped(folder, f"cannot list folder: {exc.strerror}")
            continue
        subfolders = []
        for entry in entries:
            if entry.name in IGNORED_NAMES or entry.name.startswith("._"):
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                yield Skipped(entry.path, f"broken link or unreadable: {exc.strerror}")
                continue
            if stat.S_ISDIR(st.st_mode):
                subfolders.append(entry.path)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # sockets, fifos, devices: not photos, not worth a line
            key = (st.st_dev, st.st_ino)
            if key in seen_files:
                yield Skipped(entry.path, f"same file as {seen_files[key]} (hard link or symlink)")
                continue
            seen_files[key] = entry.path
            if not os.access(entry.path, os.R_OK):
                yield Skipped(entry.path, "permission denied (cannot read the file)")
                continue
            checked = _check_file(entry.path, st)
            if checked is not None:
                yield checked
        stack.extend(reversed(subfolders))
