import os
from pathlib import Path

from PIL import Image

from vislearn.organize.scan import Found, Skipped, scan

from organize_helpers import fingerprint, write_photo


def _by_kind(root, **kw):
    items = list(scan(root, **kw))
    return [Path(f.path).name for f in items if isinstance(f, Found)], {Path(s.path).name: s.reason for s in items if isinstance(s, Skipped)}


def test_scan_lists_images_and_skips_others_with_reasons(tmp_path):
    write_photo(tmp_path / "a.jpg", (200, 0, 0))
    write_photo(tmp_path / "sub" / "b.png", (0, 200, 0))
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    Image.new("RGB", (4, 4)).save(tmp_path / "no_extension", format="PNG")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    found, skipped = _by_kind(tmp_path)
    assert found == ["a.jpg", "no_extension", "b.png"]
    assert skipped == {"empty.jpg": "empty file (0 bytes)",
                       "notes.txt": "not an image (.txt, header not a known image format)"}


def test_scan_survives_symlink_loop_and_reports_same_file_twice(tmp_path):
    photo = write_photo(tmp_path / "x" / "a.jpg", (10, 20, 30))
    os.symlink(tmp_path, tmp_path / "x" / "loop")  # x/loop -> root -> x -> loop ...
    os.link(photo, tmp_path / "hardlink.jpg")
    os.symlink(photo, tmp_path / "x" / "zz_symlink.jpg")
    found, skipped = _by_kind(tmp_path)
    assert found == ["hardlink.jpg"]  # first in walk order; the others are the same file
    assert skipped["a.jpg"].startswith("same file as") and skipped["zz_symlink.jpg"].startswith("same file as")


def test_scan_skips_broken_links_and_excluded_index_folder(tmp_path):
    write_photo(tmp_path / "a.jpg", (1, 2, 3))
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")
    write_photo(tmp_path / "index" / "thumb.png", (1, 2, 3))
    found, skipped = _by_kind(tmp_path, exclude=[tmp_path / "index"])
    assert found == ["a.jpg"]
    assert skipped["dangling.jpg"].startswith("broken link")


def test_scan_writes_nothing(tmp_path):
    write_photo(tmp_path / "a.jpg", (1, 2, 3))
    (tmp_path / "t.txt").write_text("x")
    before = fingerprint(tmp_path)
    list(scan(tmp_path))
    assert fingerprint(tmp_path) == before
