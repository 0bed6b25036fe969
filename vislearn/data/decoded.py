"""Decoded pictures held in one flat uint8 buffer (made by :mod:`.image_cache`, kept on disk by :mod:`.decoded_store`)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import ImageReadError
from .layouts import Problem


class DecodedImages:
    """Pictures in one flat uint8 buffer: ``image(i)`` is sample i's RGB PIL image, or raises its ImageReadError."""

    def __init__(self, buffer: np.ndarray, offsets: np.ndarray, shapes: np.ndarray, problems: dict[int, Problem]):
        self.buffer, self.offsets, self.shapes, self.problems = buffer, offsets, shapes, problems

    def __len__(self) -> int:
        return len(self.shapes)

    def image(self, index: int) -> Image.Image:
        if index in self.problems:
            problem = self.problems[index]
            raise ImageReadError(problem.path, problem.reason)
        h, w = self.shapes[index]
        pixels = self.buffer[self.offsets[index]:self.offsets[index + 1]].reshape(h, w, 3)
        return Image.fromarray(pixels)  # a view of the buffer: transforms make new images, never write into it
