"""Put each group's photos in its own folder (``--copy-into DIR`` / ``--link-into DIR``), never touching originals.

Nothing is ever overwritten: a name already taken gets a numeric suffix (``cat.jpg`` -> ``cat_1.jpg``),
and files are created exclusively, so a file that appears meanwhile is not clobbered either. A file
already there with the same content (a copy) or pointing at the same original (a link) is reused, so
exporting twice gives the same folders. Group names become single safe folder names: a name from a user
cannot escape ``dest``.
"""
from __future__ import annotations

import filecmp
import os
import re
import shutil
from pathlib import Path

from vislearn.errors import VislearnError

MODES = ("copy", "link")
MAX_NAME = 100
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')


def safe_folder_name(name: str) -> str:
    """``name`` as one folder name: no separators, control characters, leading dots or "..", not empty."""
    cleaned = re.sub(r"_{2,}", "_", re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", str(name))))
    cleaned = cleaned.strip().lstrip(".").strip()
    cleaned = cleaned[:MAX_NAME].rstrip(" .")  # Windows drops trailing dots and spaces
    return cleaned or "unnamed"


def _candidates(folder: Path, filename: str):
    stem, suffix = os.path.splitext(filename)
    yield folder / filename
    n = 1
    while True:
        yield folder / f"{stem}_{n}{suffix}"
        n += 1


def _already_there(source: Path, target: Path, mode: str) -> bool:
    if mode == "link":
        return target.is_symlink() and os.readlink(target) == str(source)
    return target.is_file() and not target.is_symlink() and filecmp.cmp(source, target, shallow=False)


def _place(source: Path, folder: Path, mode: str) -> Path:
    """Copy or link ``source`` into ``folder`` under a name no other file has; returns that path."""
    for target in _candidates(folder, source.name):
        if os.path.lexists(target):
            if _already_there(source, target, mode):
                return target
            continue
        try:
            if mode == "link":
                os.symlink(source, target)
            else:
                with open(source, "rb") as src, open(target, "xb") as dst:  # "x": fails rather than overwrite
                    shutil.copyfileobj(src, dst)
                shutil.copystat(source, target)
            return target
        except FileExistsError:  # appeared since the check: try the next name
            continue
    raise AssertionError("unreachable")


def export_groups(groups: dict[str, list[str]], dest: str | Path, mode: str = "copy") -> list[tuple[str, str]]:
    """Copy (``mode="copy"``) or symlink (``"link"``) each group's files into ``dest/<group>/``.

    Returns ``(source, placed_at)`` pairs. Every source is checked before anything is written, so a
    missing file stops the export before it starts. Links point at the source's absolute path.
    """
    if mode not in MODES:
        raise VislearnError(f"unknown export mode {mode!r}: use one of {', '.join(MODES)}")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise VislearnError(f"{dest}: exists and is not a folder; give a folder to put the groups in")
    sources = {path: Path(path).resolve() for files in groups.values() for path in files}
    for path, resolved in sources.items():
        if not resolved.is_file():
            raise VislearnError(f"{path}: not found (or not a file); nothing was exported. Rescan the collection")
    folders = _group_folders(groups)
    placed = []
    for name, files in groups.items():
        folder = dest / folders[name]
        folder.mkdir(parents=True, exist_ok=True)
        for path in files:
            placed.append((path, str(_place(sources[path], folder, mode))))
    return placed


def _group_folders(groups: dict[str, list[str]]) -> dict[str, str]:
    """One distinct safe folder name per group (two names that clean to the same get suffixes)."""
    taken: set[str] = set()
    folders = {}
    for name in groups:
        base = safe_folder_name(name)
        folder, n = base, 1
        while folder.lower() in taken:  # case-insensitive file systems would merge "Cats" and "cats"
            folder, n = f"{base}_{n}", n + 1
        taken.add(folder.lower())
        folders[name] = folder
    return folders
