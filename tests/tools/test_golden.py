"""tools/golden.py's comparison: what counts as "the same output" before and after a refactor."""
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import golden  # noqa: E402


def differences(before, after):
    out, loose = [], []
    golden.compare_values(before, after, "f", out, loose)
    return out, loose


def test_floats_within_tolerance_pass_and_are_counted_but_integers_and_strings_must_be_equal():
    assert differences({"auroc": 0.91234567}, {"auroc": 0.91234568}) == ([], ["f.auroc"])
    assert differences({"auroc": 0.91}, {"auroc": 0.92})[0] == ["f.auroc: 0.91 before, 0.92 after"]
    assert differences({"n": 1_000_000_000}, {"n": 1_000_000_001})[0]  # no relative tolerance for counts
    assert differences([["path", "3"]], [["path", "3.0000001"]]) == ([], ["f[0][1]"])  # CSV cells are strings
    assert differences({"verdict": "good"}, {"verdict": "defect"})[0]
    assert differences({"ok": True}, {"ok": 1})[0]  # a bool is not a number


def test_wall_clock_keys_are_skipped_but_missing_keys_and_lengths_are_differences():
    assert differences({"seconds": 1.0, "ms_per_image": 3}, {"seconds": 9.0, "ms_per_image": 7}) == ([], [])
    assert differences({"a": 1}, {"a": 1, "b": 2})[0] == ["f: keys differ: only before [], only after ['b']"]
    assert differences([1, 2], [1])[0] == ["f: 2 items before, 1 after"]


def test_png_compares_pixels_not_bytes(tmp_path):
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "b.png", compress_level=0)  # other bytes, same picture
    changed = pixels.copy()
    changed[0, 0, 0] += 1
    Image.fromarray(changed).save(tmp_path / "c.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    assert golden.compare_file(Path("x.png"), tmp_path / "a.png", tmp_path / "b.png", tmp_path)[0] == "within tolerance"
    assert golden.compare_file(Path("x.png"), tmp_path / "a.png", tmp_path / "c.png", tmp_path)[0] == "different"


@pytest.mark.parametrize("name", ["m.json", "p.csv"])
def test_paths_inside_files_are_compared_relative_to_the_work_folder(tmp_path, name):
    before, work = tmp_path / "before", tmp_path / "work"
    before.mkdir(), work.mkdir()
    text = '{"out": "{WORK}/run/x.png"}' if name.endswith("json") else "path\n{WORK}/run/x.png\n"
    (before / name).write_text(text)
    (work / name).write_text(text.replace("{WORK}", str(work)))
    assert golden.compare_file(Path(name), before / name, work / name, work) == ("identical", [])
