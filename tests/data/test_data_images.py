"""read_image: every Pillow mode comes out as upright 8-bit RGB; every bad file is one ImageReadError."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vislearn.data.images import MAX_PIXELS, image_size, is_image_file, read_file_bytes, read_image, read_image_bytes
from vislearn.errors import ImageReadError


def rgb_pixels(path) -> np.ndarray:
    """(H, W, 3) uint8, after checking read_image's contract: an RGB image."""
    image = read_image(path)
    assert image.mode == "RGB"
    array = np.asarray(image)
    assert array.dtype == np.uint8 and array.shape == (image.height, image.width, 3)
    return array


def save_mode(path, mode: str, values: list, size=None):
    image = Image.new(mode, size or (len(values), 1))
    image.putdata(values)
    image.save(path)
    return path


def test_rgb_png_reads_unchanged(tmp_path):
    expected = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    Image.fromarray(expected).save(tmp_path / "x.png")
    assert np.array_equal(rgb_pixels(tmp_path / "x.png"), expected)


def test_size_is_width_by_height(tmp_path):
    Image.new("RGB", (20, 10)).save(tmp_path / "x.png")
    assert read_image(tmp_path / "x.png").size == (20, 10)
    assert image_size(tmp_path / "x.png") == (20, 10)


def test_grayscale_copies_grey_into_all_three_channels(tmp_path):
    save_mode(tmp_path / "g.png", "L", [0, 77, 255])
    assert rgb_pixels(tmp_path / "g.png")[0].tolist() == [[0, 0, 0], [77, 77, 77], [255, 255, 255]]


def test_one_bit_image_becomes_black_and_white(tmp_path):
    save_mode(tmp_path / "b.png", "1", [0, 1])
    assert rgb_pixels(tmp_path / "b.png")[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_palette_image_keeps_its_colours(tmp_path):
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2])
    image.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    assert rgb_pixels(tmp_path / "p.png")[0].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def test_palette_transparent_index_becomes_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    image.save(tmp_path / "p.png", transparency=0)
    assert rgb_pixels(tmp_path / "p.png")[0].tolist() == [[255, 255, 255], [255, 0, 0]]


def test_palette_gif_with_transparency_becomes_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    image.save(tmp_path / "p.gif", transparency=0)
    assert rgb_pixels(tmp_path / "p.gif")[0].tolist() == [[255, 255, 255], [0, 0, 255]]


def test_rgba_is_composited_on_white(tmp_path):
    save_mode(tmp_path / "a.png", "RGBA", [(10, 20, 30, 0), (0, 0, 0, 128), (1, 2, 3, 255)])
    # fully transparent -> white; half-transparent black -> mid grey; opaque -> unchanged
    assert rgb_pixels(tmp_path / "a.png")[0].tolist() == [[255, 255, 255], [127, 127, 127], [1, 2, 3]]


def test_grey_with_alpha_is_composited_on_white(tmp_path):
    save_mode(tmp_path / "la.png", "LA", [(0, 0), (50, 255)])
    assert rgb_pixels(tmp_path / "la.png")[0].tolist() == [[255, 255, 255], [50, 50, 50]]


def test_cmyk_tiff_converts_to_rgb(tmp_path):
    save_mode(tmp_path / "c.tif", "CMYK", [(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255)])
    assert rgb_pixels(tmp_path / "c.tif")[0].tolist() == [[255, 255, 255], [0, 255, 255], [0, 0, 0]]


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(tmp_path / "c.jpg", quality=100)
    assert np.abs(rgb_pixels(tmp_path / "c.jpg").astype(int) - 255).max() <= 2


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_maps_full_range_to_0_255(tmp_path, suffix):
    Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16)).save(tmp_path / f"g{suffix}")
    assert rgb_pixels(tmp_path / f"g{suffix}")[0, :, 0].tolist() == [0, 100, 255]


def test_16_bit_pgm_maps_full_range_to_0_255(tmp_path):
    values = np.array([0, 257 * 100, 65535], dtype=">u2")
    (tmp_path / "g.pgm").write_bytes(b"P5\n3 1\n65535\n" + values.tobytes())
    assert rgb_pixels(tmp_path / "g.pgm")[0, :, 0].tolist() == [0, 100, 255]


def test_dark_16_bit_image_reads_the_same_from_png_and_pgm(tmp_path):
    # every value <= 255 of 65535: a near-black picture, not a bright one, whatever the file format
    values = np.array([[0, 100, 200, 255]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "d.png")
    (tmp_path / "d.pgm").write_bytes(b"P5\n4 1\n65535\n" + values.astype(">u2").tobytes())
    assert rgb_pixels(tmp_path / "d.png")[0, :, 0].tolist() == [0, 0, 1, 1]
    assert rgb_pixels(tmp_path / "d.pgm")[0, :, 0].tolist() == [0, 0, 1, 1]


def test_float_image_in_0_1_maps_to_0_255(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    assert rgb_pixels(tmp_path / "f.tif")[0, :, 0].tolist() == [0, 128, 255]


def test_grayscale_jpeg_reads_as_rgb(tmp_path):
    Image.new("L", (8, 8), 128).save(tmp_path / "g.jpg", quality=100)
    pixels = rgb_pixels(tmp_path / "g.jpg")
    assert pixels.shape == (8, 8, 3) and np.abs(pixels.astype(int) - 128).max() <= 1


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_exif_orientation_6_turns_20x10_into_10x20_clockwise(tmp_path):
    stored = np.zeros((10, 20, 3), dtype=np.uint8)
    stored[0, 0] = (255, 0, 0)
    Image.fromarray(stored).save(tmp_path / "o.png", exif=_exif(6))
    pixels = rgb_pixels(tmp_path / "o.png")
    assert pixels.shape == (20, 10, 3)
    # rotated 90 degrees clockwise: the stored top-left corner is shown top-right
    assert np.argwhere(pixels[:, :, 0] == 255).tolist() == [[0, 9]]


def test_exif_orientation_in_jpeg_is_applied(tmp_path):
    Image.new("RGB", (20, 10), (0, 128, 0)).save(tmp_path / "o.jpg", exif=_exif(6))
    assert read_image(tmp_path / "o.jpg").size == (10, 20)


def test_exif_orientation_1_leaves_image_as_stored(tmp_path):
    Image.new("RGB", (20, 10)).save(tmp_path / "o.png", exif=_exif(1))
    assert read_image(tmp_path / "o.png").size == (20, 10)


def test_read_image_leaves_no_open_file(tmp_path, noisy_png):
    noisy_png(tmp_path / "x.png")
    read_image(tmp_path / "x.png")
    (tmp_path / "x.png").unlink()  # on every OS this needs the handle closed
    assert not (tmp_path / "x.png").exists()


# ----- failures: one ImageReadError naming the file and the reason -----

def read_error(path, **kwargs) -> ImageReadError:
    with pytest.raises(ImageReadError) as caught:
        read_image(path, **kwargs)
    err = caught.value
    assert err.path == str(path) and str(err).startswith(f"{path}: ")
    return err


def test_missing_file_is_named(tmp_path):
    assert "No such file" in read_error(tmp_path / "gone.png").reason


def test_zero_byte_file_says_empty(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    assert read_error(tmp_path / "z.png").reason == "empty file (0 bytes)"


def test_text_file_named_png_is_not_an_image(tmp_path):
    (tmp_path / "t.png").write_text("hello, I am not a picture\n")
    assert read_error(tmp_path / "t.png").reason == "not an image Pillow can read (wrong format or corrupt header)"


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_says_truncated(tmp_path, suffix, truncated_copy):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"whole{suffix}")
    cut = truncated_copy(tmp_path / f"whole{suffix}", tmp_path / f"cut{suffix}")
    assert read_error(cut).reason == "cannot decode: file is truncated (an interrupted copy or download?)"


def test_truncated_file_still_passes_the_header_only_size_check(tmp_path, noisy_png, truncated_copy):
    cut = truncated_copy(noisy_png(tmp_path / "whole.png"), tmp_path / "cut.png")
    assert image_size(cut) == (64, 64)


def test_png_with_corrupt_pixel_data_cannot_be_decoded(tmp_path, noisy_png):
    data = bytearray(noisy_png(tmp_path / "x.png").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    (tmp_path / "x.png").write_bytes(bytes(data))
    assert read_error(tmp_path / "x.png").reason.startswith("cannot decode: ")


def test_image_over_max_pixels_is_refused_with_its_size(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "x.png")
    err = read_error(tmp_path / "x.png", max_pixels=100)
    assert err.reason == "64x64 pixels is over the 100 pixel limit (a decompression bomb?)"
    with pytest.raises(ImageReadError, match="over the 100 pixel limit"):
        image_size(tmp_path / "x.png", max_pixels=100)


def test_header_claiming_10000x10000_is_refused_by_default(tmp_path, png_header_only):
    bomb = png_header_only(tmp_path / "bomb.png", 10_000, 10_000)
    assert read_error(bomb).reason == f"10000x10000 pixels is over the {MAX_PIXELS:,} pixel limit (a decompression bomb?)"


def test_header_claiming_100000x100000_is_refused_before_decoding(tmp_path, png_header_only):
    bomb = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    assert "pixel limit" in read_error(bomb).reason
    with pytest.raises(ImageReadError, match="pixel limit"):
        image_size(bomb)


def test_max_pixels_above_pillows_own_warning_limit_is_honoured(tmp_path, png_header_only):
    # 100 megapixels: over Pillow's warning threshold (~89M), under the caller's limit
    bomb = png_header_only(tmp_path / "big.png", 10_000, 10_000)
    assert image_size(bomb, max_pixels=120_000_000) == (10_000, 10_000)


def test_bytes_reader_gives_the_same_pixels_and_errors_as_the_path_reader(tmp_path, noisy_png, truncated_copy, png_header_only):
    Image.new("RGB", (20, 10), (0, 128, 0)).save(tmp_path / "o.jpg", exif=_exif(6))
    noisy_png(tmp_path / "x.png")
    truncated_copy(tmp_path / "x.png", tmp_path / "cut.png")
    (tmp_path / "z.png").write_bytes(b"")
    (tmp_path / "t.png").write_text("not a picture")
    png_header_only(tmp_path / "bomb.png", 10_000, 10_000)
    for name in ("o.jpg", "x.png"):
        path = tmp_path / name
        assert np.array_equal(np.asarray(read_image_bytes(read_file_bytes(path), path)), np.asarray(read_image(path)))
    for name in ("cut.png", "z.png", "t.png", "bomb.png"):
        path = tmp_path / name
        with pytest.raises(ImageReadError) as caught:
            read_image_bytes(read_file_bytes(path), path)
        assert caught.value.path == str(path) and caught.value.reason == read_error(path).reason
    with pytest.raises(ImageReadError) as caught:
        read_image_bytes(read_file_bytes(tmp_path / "x.png"), tmp_path / "x.png", max_pixels=100)
    assert caught.value.reason == "64x64 pixels is over the 100 pixel limit (a decompression bomb?)"


def test_reading_a_missing_file_as_bytes_is_the_same_error_as_read_image(tmp_path):
    with pytest.raises(ImageReadError) as caught:
        read_file_bytes(tmp_path / "gone.png")
    assert caught.value.path == str(tmp_path / "gone.png") and caught.value.reason == read_error(tmp_path / "gone.png").reason


@pytest.mark.parametrize("name, expected", [
    ("a.png", True), ("b.JPG", True), ("c.jpeg", True), ("d.tiff", True), ("e.webp", True), ("f.bmp", True),
    ("g.txt", False), ("h.csv", False), ("noext", False), ("png", False),
])
def test_is_image_file_goes_by_extension_any_case(name, expected):
    assert is_image_file(name) is expected
