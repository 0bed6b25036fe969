"""Uploads are refused before any model sees them, with the HTTP status and a reason a person can act on."""
import io

import numpy as np
import pytest
from PIL import Image

from vislearn.serve.uploads import Limits, UploadRefused, bomb_png, check_upload


def _png(size=(20, 10), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def _refused(data: bytes, limits: Limits | None = None) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        check_upload(data, limits or Limits())
    return caught.value


def test_a_good_image_is_kept_as_sent_with_its_size_and_format():
    data = _png((20, 10))
    upload = check_upload(data, Limits())
    assert (upload.data, upload.suffix, upload.width, upload.height) == (data, ".png", 20, 10)
    jpeg = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(jpeg, format="JPEG")
    assert check_upload(jpeg.getvalue(), Limits()).suffix == ".jpg"


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 400, "empty body"),
    (b"hello, this is text", 415, "not an image"),
    (b"%PDF-1.7\n" + b"0" * 100, 415, "not an image"),
])
def test_empty_and_non_image_bodies(data, status, words):
    refused = _refused(data)
    assert refused.status == status and words in str(refused)


def test_a_truncated_image_is_422_and_says_it_does_not_decode():
    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(whole, format="PNG")
    refused = _refused(whole.getvalue()[: len(whole.getvalue()) // 2])
    assert refused.status == 422 and "does not decode" in str(refused)


def test_too_many_bytes_is_413():
    refused = _refused(_png((64, 64)), Limits(max_bytes=len(_png((64, 64))) - 1))
    assert refused.status == 413 and "over the limit" in str(refused)


def test_too_many_pixels_is_422_before_decoding():
    refused = _refused(_png((300, 200), mode="1"), Limits(max_pixels=50_000))
    assert refused.status == 422 and "300x200" in str(refused)


@pytest.mark.parametrize("side", [7_000, 20_000])
def test_a_decompression_bomb_is_422(side):
    """A PNG declaring side x side pixels in under 100 bytes: 49 million (over vislearn's 40 million) and 400 million
    (PIL itself refuses it at open)."""
    bomb = bomb_png(side, side)
    assert len(bomb) < 100
    refused = _refused(bomb)
    assert refused.status == 422 and "too many pixels" in str(refused)
