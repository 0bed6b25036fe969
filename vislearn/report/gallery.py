"""report.html of ``vislearn organize``: the groups as thumbnails, duplicates side by side, outliers, skipped files, quality."""
from __future__ import annotations

import base64
import datetime
import io
import json
from pathlib import Path
from typing import Callable

import jinja2
import numpy as np

from ..data.images import read_image
from ..errors import ImageReadError
from ..organize.naming import naming_method
from ..organize.progress import progress_bar
from .gallery_template import GALLERY, GALLERY_CSS

THUMB_SIDE = 128
MAX_DUPLICATE_GROUPS = 40
MAX_OUTLIERS = 60
MAX_SKIPPED_ROWS = 500


def thumbnail_uri(path: str, side: int = THUMB_SIDE) -> str | None:
    """A small JPEG of the image as a data URI (the report stays one file that opens offline); None if unreadable."""
    try:
        image = read_image(path)
    except ImageReadError:
        return None
    image.thumbnail((side * 2, side * 2))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumb_maker() -> Callable[..., dict]:
    """``thumb(path, note="")`` -> the template's thumbnail dict, each photo decoded once however often it is shown
    (typical, duplicate, outlier, person). Make one per report: the files may change between reports."""
    uris: dict[str, str | None] = {}

    def thumb(path: str, note: str = "") -> dict:
        if path not in uris:
            uris[path] = thumbnail_uri(path)
        return {"path": path, "name": Path(path).name, "uri": uris[path], "note": note}

    return thumb


def gallery_context(index_dir: Path, emb, grouping, names, duplicates, skipped, quality, embedder: str, progress: bool = False) -> dict:
    paths = emb.paths
    thumb = thumb_maker()
    other = np.flatnonzero(grouping.group_n < 0)
    shown = duplicates[:MAX_DUPLICATE_GROUPS]
    shown_paths = ([paths[i] for typical in grouping.typical for i in typical] + [paths[i] for i in other[:MAX_OUTLIERS]]
                   + [p for d in shown for p in (d.keep, *d.remove[:8], *d.similar[:8])])
    for path in progress_bar(dict.fromkeys(shown_paths), enabled=progress, desc="gallery thumbnails"):  # a bounded number
        thumb(path)
    settings_path = index_dir / "organize.json"
    collection = json.loads(settings_path.read_text()).get("collection", "") if settings_path.exists() else ""
    groups = [{"name": names[g].name, "size": int((grouping.group_n == g).sum()), "evidence": names[g].detail, "confident": names[g].confident,
               "thumbs": [thumb(paths[i], f"{grouping.similarity_n[i]:.2f}") for i in grouping.typical[g]]}
              for g in range(grouping.n_groups)]
    dups = [{"kind": d.kind, "reason": d.reason, "keep": thumb(d.keep, "keep" if d.remove else "similar"),
             "remove": [thumb(p, "remove") for p in d.remove[:8]], "similar": [thumb(p, "similar") for p in d.similar[:8]]} for d in shown]
    cards = [("Images", f"{len(paths):,}"), ("Groups", grouping.n_groups), ("Other", len(other)),
             ("Duplicate groups", len(duplicates)), ("Skipped files", len(set(skipped)))]
    return {"title": f"Photo collection: {Path(collection).name or index_dir.name}", "css": GALLERY_CSS, "collection": collection,
            "embedder": embedder, "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cards": cards,
            "groups": groups, "groups_note": f"Number of groups: {grouping.chosen_by}.",
            "named_by": naming_method(names), "duplicates": dups, "more_duplicates": len(duplicates) - len(shown),
            "outliers": [thumb(paths[i]) for i in other[:MAX_OUTLIERS]], "n_other": len(other),
            "skipped": [{"path": s.path, "reason": s.reason} for s in sorted(set(skipped))[:MAX_SKIPPED_ROWS]],
            "quality": [q._asdict() for q in quality], "people": _people(index_dir, thumb)}


def _people(index_dir: Path, thumb: Callable[..., dict], max_people: int = 20, per_person: int = 6) -> list[dict]:
    """people.csv (written by --people) as person -> a few thumbnails; empty without it."""
    import csv

    path = index_dir / "people.csv"
    if not path.is_file():
        return []
    photos: dict[str, list[str]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            photos.setdefault(row["person"], []).append(row["path"])
    return [{"name": person, "size": len(paths), "thumbs": [thumb(p) for p in paths[:per_person]]}
            for person, paths in list(photos.items())[:max_people]]


def write_gallery(index_dir: str | Path, emb, grouping, names, duplicates, skipped, quality, embedder: str, progress: bool = False) -> Path:
    """report.html: at most 8 thumbnails per group, 40 duplicate groups and 60 outliers, whatever the collection's size."""
    index_dir = Path(index_dir)
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    context = gallery_context(index_dir, emb, grouping, names, duplicates, skipped, quality, embedder, progress)
    html = environment.from_string(GALLERY).render(**context)
    path = index_dir / "report.html"
    path.write_text(html)
    return path
