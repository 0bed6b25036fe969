"""Images as data URIs, so the report is one file that opens offline."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(path: Path) -> bytes:
    """The image at path as PNG bytes; PNGs pass through, other formats are re-encoded.

    Raises OSError / PIL.UnidentifiedImageError when the file is not a readable image.
    """
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if data.startswith(PNG_SIGNATURE):
            image.verify()
            return data
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def png_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,...`` for the image at path."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(Path(path))).decode("ascii")


def run_image_uri(run_dir: Path, relative: object) -> str | None:
    """Data URI for an image path given relative to the run folder; None if missing or unreadable."""
    if not isinstance(relative, str) or not relative:
        return None
    path = run_dir / relative
    try:
        return png_data_uri(path) if path.is_file() else None
    except (OSError, UnidentifiedImageError, SyntaxError):  # PIL's verify() raises SyntaxError on bad PNGs
        return None
