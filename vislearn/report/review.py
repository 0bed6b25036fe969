"""``review.html``: the likely label mistakes as a contact sheet a person can go through -- the image, its given label
and the suggested one, how sure the out-of-fold model is, and the Grad-CAM of the suggested class for the first ones.
One self-contained file (images embedded), opens offline."""
from __future__ import annotations

import html
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.images import read_image
from ..explain.gallery import explain_image
from ..explain.overlay import save_png
from .embed import png_data_uri

THUMB = 128


def thumbnail(path: str, folder: Path, name: str) -> str:
    """A data URI of ``path`` shrunk to fit THUMB px (nearest neighbour: small images stay sharp), via ``folder/name``."""
    image = read_image(path)
    scale = THUMB / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.NEAREST)
    return png_data_uri(save_png(np.asarray(image), folder / name))


def write_review_page(out_dir: Path, rows: list[dict], run, explain: int, summary: dict, model=None) -> Path:
    """Write ``out_dir/review.html`` for ``rows`` (review.csv's rows, most likely mistake first); the first ``explain``
    rows get the Grad-CAM of their suggested class by ``model`` (the run's classifier; None: no Grad-CAMs)."""
    cards = []
    with tempfile.TemporaryDirectory(prefix="vislearn-review-") as tmp:
        folder = Path(tmp)
        for row in rows:
            picture = thumbnail(row["path"], folder, f"{row['rank']}.png")
            cam = ""
            if model is not None and row["rank"] <= explain:
                written = explain_image(model, row["path"], run.preprocessing, run.class_names, folder, f"cam{row['rank']}",
                                        row["suggested"], ("gradcam",))
                cam = f'<img src="{png_data_uri(written["gradcam"])}" alt="Grad-CAM of {html.escape(row["suggested"])}">'
            cards.append(
                f'<figure><div class="pics"><img src="{picture}" alt="{html.escape(Path(row["path"]).name)}">{cam}</div>'
                f'<figcaption>#{row["rank"]} <b>{html.escape(row["given"])} &rarr; {html.escape(row["suggested"])}</b><br>'
                f'p(given) {row["given_probability"]:.2f}, p(suggested) {row["suggested_probability"]:.2f}<br>'
                f'<span class="path">{html.escape(row["path"])}</span></figcaption></figure>')
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vislearn review</title><style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }} .grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; width: 280px; border: 1px solid #ddd; padding: 6px; }} .pics img {{ width: 128px; height: 128px;
object-fit: contain; image-rendering: pixelated; margin-right: 4px; }} .path {{ color: #777; font-size: .8em; word-break: break-all; }}
</style></head><body><h1>Likely label mistakes</h1>
<p>{summary["issues"]} of {summary["images"]} images look mislabelled (confident learning, Northcutt et al. 2021, on
out-of-fold probabilities: a logistic regression on the run's features, {summary["folds"]} folds; its accuracy against
the given labels: {summary["out_of_fold_accuracy"]:.3f}). Most likely first. Left: the image; right (first {explain}):
Grad-CAM of the suggested class. Correct a label by moving the file, or list <code>path,label</code> in a CSV.</p>
<p>How far to trust it: the features come from a network trained on these labels when this is its own training data;
a mistake it memorised can be missed. Every suggestion is a question for a person, never an automatic relabel.</p>
<div class="grid">{"".join(cards)}</div></body></html>"""
    path = out_dir / "review.html"
    path.write_text(page, encoding="utf-8")
    return path
