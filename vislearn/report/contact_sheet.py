"""Contact sheets: one self-contained HTML page of small images with captions (images embedded, opens offline), as
``review.html`` and ``suggest.html`` show them to a person."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from ..data.images import ImageReadError, read_image

THUMB = 128


def thumbnail(path: str | Path, px: int = THUMB) -> str | None:
    """A PNG data URI of the image at ``path`` fitting ``px`` (large images reduced smoothly, then every image brought to
    ``px`` with nearest neighbour so tiny ones stay crisp); None when the file cannot be read."""
    try:
        image = read_image(path)
    except (ImageReadError, OSError):
        return None
    image.thumbnail((px, px))
    scale = px / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def write_contact_sheet(path: Path, title: str, body_html: str, card_px: int = 200) -> Path:
    """Write the page at ``path``: ``body_html`` holds ``<div class="grid">`` of ``<figure>`` cards, ``card_px`` wide."""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vislearn {title}</title><style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }} .grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; width: {card_px}px; border: 1px solid #ddd; padding: 6px; }} figure img {{ width: {THUMB}px; height: {THUMB}px;
object-fit: contain; image-rendering: pixelated; margin-right: 4px; }} .path {{ color: #777; font-size: .8em; word-break: break-all; }}
</style></head><body>{body_html}</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
