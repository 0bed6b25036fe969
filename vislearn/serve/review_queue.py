"""The review queue of a served classify run: images a person should label, one by one, and the labels they give.

Items come from two places:
- **referred uploads**: an upload the run referred to a human (low confidence, unlike training images, ambiguous) is
  kept as ``DIR/referred/<first 16 hex digits of its SHA-256><suffix>`` with the run's answer beside it (``.json``),
  at most ``keep`` of them (the log says when the queue is full). Keeping uploads is opt-in: only ``vislearn serve --review-dir DIR`` does it.
- **files to label**: the rows of a ``vislearn suggest`` CSV (``path``, ``predicted``) or a ``vislearn review`` CSV
  (``path``, ``given``, ``suggested``), read once at start; their paths are relative to the CSV's folder.

A person accepts the proposed label or picks another class; each answer is one row ``path,label`` of
``DIR/corrections.csv`` (paths relative to ``DIR``), the file ``vislearn train classify --corrections`` reads. A later
answer for the same image replaces the earlier row; the file is rewritten atomically after each answer, and a restarted
server reads it back, so answered items stay answered. Items are named by an id made from their path: nothing of a
request is ever used as a path.
"""
from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..data.layouts import csv_rows
from ..errors import CheckpointError, DataLayoutError
from ..files import read_json, write_csv_rows, write_json

CORRECTIONS = "corrections.csv"
THUMBNAIL_SIDE = 512  # images are shown re-encoded as PNG, at most this many pixels on a side


@dataclass
class QueueItem:
    """One image to label. source: "referred", "suggested" or "review"; proposed: the label offered for acceptance;
    given: the data's label (review CSVs); note: why it is in the queue, in words; label: the answer, once given."""

    id: str
    source: str
    path: Path
    proposed: str
    given: str | None
    note: str
    label: str | None = None

    def as_json(self) -> dict:
        return {"id": self.id, "source": self.source, "file": self.path.name, "proposed": self.proposed, "given": self.given,
                "note": self.note, "label": self.label}


def _item_id(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def read_label_csv(csv_path: Path, class_names: list[str]) -> list[QueueItem]:
    """The rows of a ``suggest.csv`` or ``review.csv`` as queue items (in the file's order); a clear error for any other CSV."""
    header, numbered = csv_rows(csv_path)  # the data CSV reader: byte-order mark, trimmed cells, a clear error
    columns, rows = set(header), [row for _, row in numbered]
    if {"path", "suggested", "given"} <= columns:
        source, proposed_column = "review", "suggested"
    elif {"path", "predicted"} <= columns:
        source, proposed_column = "suggested", "predicted"
    else:
        raise DataLayoutError(f"--review-csv {csv_path}: expected the CSV of `vislearn suggest` (path, predicted) or "
                              f"`vislearn review` (path, given, suggested); found columns {', '.join(sorted(columns)) or 'none'}")
    items = []
    for row in rows:
        path = (csv_path.parent / row["path"]).resolve()
        proposed = row[proposed_column]
        if proposed not in class_names:
            raise DataLayoutError(f"--review-csv {csv_path}: label {proposed!r} of {row['path']} is not a class of the run "
                                  f"({', '.join(class_names)})")
        if source == "review":
            note = f"labelled {row['given']!r}; the model suggests {proposed!r} (probability {float(row['suggested_probability']):.2f})"
        else:
            note = f"{row.get('list') or 'suggested'} to label next (rank {row.get('rank', '?')})"
        items.append(QueueItem(_item_id(path), source, path, proposed, row.get("given") or None, note))
    return items


class ReviewQueue:
    """The queue of one served run: ``items()``, ``picture(id)``, ``answer(id, label)``, ``add_referred(upload, prediction)``.

    Thread-safe: the server calls it from its worker threads."""

    def __init__(self, folder: Path, class_names: list[str], csvs: list[Path] = (), keep: int = 1000, log=print):
        self.folder = Path(folder)
        self.referred_dir = self.folder / "referred"
        self.referred_dir.mkdir(parents=True, exist_ok=True)
        self.class_names = list(class_names)
        self.keep, self.log = keep, log
        self._lock = threading.Lock()
        self._items: dict[str, QueueItem] = {}
        for csv_path in csvs:
            for item in read_label_csv(Path(csv_path), self.class_names):
                self._items.setdefault(item.id, item)
        self._full_logged = False
        self._answers = self._read_answers()
        for item in self._items.values():
            item.label = self._answers.get(self._relative(item.path))
        self.log(f"review queue: {len(self._items)} image(s) from {len(csvs)} CSV file(s), {len(self._answers)} answer(s) "
                 f"already in {self.folder / CORRECTIONS}; referred uploads kept in {self.referred_dir} (at most {keep})")

    # --- what the endpoints call ---
    def items(self, include_answered: bool = False) -> dict:
        with self._lock:
            shown = [i.as_json() for i in self._items.values() if include_answered or i.label is None]
            left = sum(i.label is None for i in self._items.values())
        return {"classes": self.class_names, "left": left, "answered": len(self._items) - left, "items": shown,
                "corrections_csv": str(self.folder / CORRECTIONS)}

    def picture(self, item_id: str) -> bytes | None:
        """The item's image as PNG (at most THUMBNAIL_SIDE px a side); None for an unknown id or an unreadable file."""
        item = self._items.get(item_id)
        if item is None:
            return None
        try:
            with Image.open(item.path) as image:
                image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, format="PNG")
                return buffer.getvalue()
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    def answer(self, item_id: str, label: str) -> dict | None:
        """Record ``label`` for the item (None: unknown id); ValueError for a label that is not a class of the run."""
        if label not in self.class_names:
            raise ValueError(f"{label!r} is not a class of this run ({', '.join(self.class_names)})")
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return None
            item.label = label
            self._answers[self._relative(item.path)] = label
            rows = [{"path": path, "label": chosen} for path, chosen in self._answers.items()]
            write_csv_rows(self.folder / CORRECTIONS, rows, ["path", "label"])
            left = sum(i.label is None for i in self._items.values())
        return {"id": item_id, "label": label, "left": left, "corrections_csv": str(self.folder / CORRECTIONS)}

    def add_referred(self, data: bytes, suffix: str, prediction: dict) -> QueueItem | None:
        """Keep a referred upload and queue it with the run's answer as the proposed label; None when the queue is full."""
        path = self.referred_dir / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
        with self._lock:
            if _item_id(path) in self._items:
                return self._items[_item_id(path)]
            if sum(i.source == "referred" for i in self._items.values()) >= self.keep:
                if not self._full_logged:
                    self.log(f"review queue: {self.keep} referred uploads kept already (--review-keep); further ones are not kept")
                    self._full_logged = True
                return None
            reason = prediction.get("refer_reason") or "referred"
            note = f"referred to a human ({reason}); the model said {prediction.get('predicted')!r} at {prediction.get('confidence', 0):.2f}"
            write_json(path.with_suffix(".json"), {"proposed": prediction.get("predicted", self.class_names[0]), "note": note})
            path.write_bytes(data)
            item = _referred_item(path.resolve(), self.class_names)
            item.label = self._answers.get(self._relative(path))
            self._items[item.id] = item
            return item

    # --- the files ---
    def _relative(self, path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), self.folder.resolve())).as_posix()

    def _read_answers(self) -> dict[str, str]:
        """corrections.csv of an earlier session (path -> label); referred uploads kept then are queued again."""
        for kept in sorted(self.referred_dir.iterdir()):
            if kept.is_file() and kept.suffix != ".json":
                item = _referred_item(kept.resolve(), self.class_names)
                self._items.setdefault(item.id, item)
        csv_path = self.folder / CORRECTIONS
        if not csv_path.exists():
            return {}
        return {row["path"]: row["label"] for _, row in csv_rows(csv_path)[1] if row.get("path") and row.get("label")}


def _referred_item(path: Path, class_names: list[str]) -> QueueItem:
    """A kept upload as a queue item, with the answer written beside it (the first class if that file is gone or odd)."""
    try:
        facts = read_json(path.with_suffix(".json"))
    except CheckpointError:
        facts = {}
    facts = facts if isinstance(facts, dict) else {}
    proposed = facts.get("proposed") if facts.get("proposed") in class_names else class_names[0]
    return QueueItem(_item_id(path), "referred", path, proposed, None, facts.get("note", "referred to a human"))
