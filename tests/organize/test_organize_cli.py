import csv
import json
import os

import pytest

from vislearn.cli import main
from vislearn.data.samples.collection import write_collection

from organize_helpers import fingerprint

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("organize") / "photos"
    write_collection(root, per_group=4, duplicates=2, groups=["cat", "grass", "rocket"])
    (root / "broken.jpg").write_bytes((root / "cat" / "cat_001.jpg").read_bytes()[:200])
    (root / "empty.png").write_bytes(b"")
    (root / "readme.txt").write_text("not a photo")
    os.symlink(root / "cat", root / "grass" / "link_to_cat")
    return root


def _organize(collection, index, *extra):
    return main(["organize", str(collection), "--out", str(index), "--image-size", "64", "--workers", "0", "--quiet", *extra])


def test_organize_writes_groups_duplicates_skipped_gallery_and_touches_nothing(collection, tmp_path, capsys):
    before = fingerprint(collection)
    index = tmp_path / "index"
    assert _organize(collection, index, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert fingerprint(collection) == before
    assert result["images"] == 16 and result["embedded"] == 16 and result["named_by"] == "imagenet-classes"
    with open(index / "groups.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and {"path", "group", "group_id", "outlier", "similarity_to_centre", "image_label"} <= set(rows[0])
    cat_labels = [r["image_label"] for r in rows if "/cat/" in r["path"]]
    assert cat_labels.count("cat") >= len(cat_labels) // 2  # each photo's own label: ImageNet top-1 as an everyday word
    with open(index / "skipped.csv") as f:
        skipped = {os.path.basename(r["file"]): r["reason"] for r in csv.DictReader(f)}
    assert set(skipped) == {"broken.jpg", "empty.png", "readme.txt"}
    with open(index / "duplicates.csv") as f:
        dups = list(csv.DictReader(f))
    assert {os.path.basename(r["path"]) for r in dups if r["suggestion"] == "remove"} == {"copy_of_cat_000.jpg", "resaved_grass_000.jpg"}
    groups = json.loads((index / "groups.json").read_text())
    assert sum(g["size"] for g in groups["groups"]) + len(groups["other"]) == 16
    html = (index / "report.html").read_text()
    assert "data:image/jpeg;base64," in html and "broken.jpg" in html and "copy_of_cat_000.jpg" in html

    assert _organize(collection, index, "--json") == 0  # nothing new: reuses every embedding
    again = json.loads(capsys.readouterr().out)
    assert (again["embedded"], again["reused"]) == (0, 16)

    assert main(["search", str(index), "--image", str(collection / "rocket" / "rocket_002.jpg"), "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["path"].endswith("rocket_002.jpg") and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_copy_into_exports_groups_and_names_from_user_words(collection, tmp_path, capsys):
    index, out = tmp_path / "index", tmp_path / "sorted"
    assert _organize(collection, index, "--copy-into", str(out), "--names", "cat,grass,rocket", "--groups", "3") == 0
    groups = json.loads((index / "groups.json").read_text())
    assert groups["n_groups"] == 3 and groups["groups"][0]["named_by"] == "imagenet-classes (user words)"
    copied = [p for p in out.rglob("*.jpg")]
    assert len(copied) == 16 and all(p.parent.parent == out for p in copied)


def test_search_text_offline_uses_imagenet_classes_and_bad_index_is_clear(collection, tmp_path, capsys):
    index = tmp_path / "index"
    assert _organize(collection, index) == 0
    assert main(["search", str(index), "--text", "a cat", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["by"].startswith("ImageNet classes: tabby")
    assert main(["search", str(tmp_path / "nowhere"), "--image", "x.jpg"]) == 2
    assert "build the index first" in capsys.readouterr().err


@pytest.mark.skipif(__import__("importlib").util.find_spec("dlib") is None, reason="people extra not installed")
def test_people_option_writes_who_is_in_which_photo(tmp_path):
    import skimage.data
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(photos / "astronaut.jpg")
    Image.fromarray(skimage.data.rocket()).save(photos / "rocket.jpg")
    assert _organize(photos, tmp_path / "index", "--people") == 0
    with open(tmp_path / "index" / "people.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0] == {"person": "person_1", "path": str(photos / "astronaut.jpg")}
    assert all(r["path"].endswith("astronaut.jpg") for r in rows)  # no face in the rocket photo
    assert '<section id="people">' in (tmp_path / "index" / "report.html").read_text()


def test_python_api_and_missing_folder_error(collection, tmp_path, capsys):
    import vislearn

    result = vislearn.organize_photos(collection, tmp_path / "index", image_size=64, workers=0, groups=3, names=["cat", "rocket"])
    assert result.n_groups == 3 and result.report.is_file()
    hits = vislearn.search_photos(tmp_path / "index", image=collection / "cat" / "cat_001.jpg", k=2)
    assert hits[0].path.endswith("cat_001.jpg")
    assert main(["organize", str(tmp_path / "nowhere"), "--out", str(tmp_path / "i2")]) == 2
    assert "not a folder" in capsys.readouterr().err
