import builtins
import importlib.util

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vislearn.errors import ImageReadError, VislearnError
from vislearn.organize import people

ASTRONAUT_FACE_XYXY = (175, 76, 265, 166)  # dlib's box on skimage's astronaut (512 x 512)
needs_dlib = pytest.mark.skipif(importlib.util.find_spec("dlib") is None or
                                importlib.util.find_spec("face_recognition_models") is None,
                                reason="people extra not installed")


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


@pytest.fixture(scope="module")
def astronaut_photos(tmp_path_factory):
    """The astronaut as five 'photos': as is, mirrored, small, on bricks, large on grass; plus a face-free texture."""
    folder = tmp_path_factory.mktemp("people")
    face = Image.fromarray(data.astronaut())
    grass = Image.fromarray(data.grass()).convert("RGB").resize((2400, 1800))
    grass.paste(face.resize((1200, 1200)), (1000, 300))  # 1.5x the face pixels, then searched downscaled
    bricks = Image.fromarray(data.brick()).convert("RGB")
    bricks.paste(face.resize((256, 256)), (150, 100))
    photos = {"astronaut.jpg": face, "mirrored.jpg": face.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
              "small.png": face.resize((300, 300)), "bricks.png": bricks, "grass.jpg": grass,
              "gravel.png": Image.fromarray(data.gravel()).convert("RGB")}
    for name, image in photos.items():
        image.save(folder / name, quality=90)
    return {name: str(folder / name) for name in photos}


@needs_dlib
@pytest.mark.slow
def test_the_same_person_is_grouped_across_flips_sizes_and_backgrounds(astronaut_photos):
    faces = people.find_faces(list(astronaut_photos.values()), max_side=1600)
    by_photo = {name: [f for f in faces if f.path == path] for name, path in astronaut_photos.items()}
    assert by_photo["gravel.png"] == []
    assert all(len(by_photo[name]) >= 1 for name in astronaut_photos if name != "gravel.png")
    assert max(iou(f.box_xyxy, ASTRONAUT_FACE_XYXY) for f in by_photo["astronaut.jpg"]) > 0.9
    # grass.jpg (2400 x 1800) was searched at 1600 px: the box is back in its own pixels, face at 1000+2.34x
    expected = (1000 + 175 * 1200 / 512, 300 + 76 * 1200 / 512, 1000 + 265 * 1200 / 512, 300 + 166 * 1200 / 512)
    assert max(iou(f.box_xyxy, expected) for f in by_photo["grass.jpg"]) > 0.7
    assert all(f.embedding_128.shape == (128,) and f.embedding_128.dtype == np.float32 for f in faces)
    groups = people.group_people(faces)
    assert sorted(groups["person_1"]) == sorted(p for n, p in astronaut_photos.items() if n != "gravel.png")
    assert all(len(p) <= len(groups["person_1"]) for p in groups.values())
    assert people.group_people(faces, max_distance=0.01)["person_1"] != groups["person_1"]  # too strict: split


def test_group_people_joins_close_descriptors_and_lists_a_photo_once():
    pytest.importorskip("dlib")
    rng = np.random.default_rng(0)
    anna, ben = rng.normal(size=128) * 0.1, rng.normal(size=128) * 0.1 + 0.2
    faces = [people.Face(path, (0, 0, 1, 1), (centre + rng.normal(size=128) * 0.005).astype(np.float32))
             for path, centre in [("a1.jpg", anna), ("a2.jpg", anna), ("group.jpg", anna), ("group.jpg", ben),
                                  ("a3.jpg", anna), ("b1.jpg", ben), ("a3.jpg", anna)]]
    assert people.group_people(faces) == {"person_1": ["a1.jpg", "a2.jpg", "group.jpg", "a3.jpg"],
                                          "person_2": ["group.jpg", "b1.jpg"]}
    assert people.group_people([]) == {}


@needs_dlib
def test_unreadable_photo_raises_or_is_skipped(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        people.find_faces([str(bad)])
    assert people.find_faces([str(bad)], skip_unreadable=True) == []


def test_missing_packages_name_the_extra(monkeypatch):
    people.load_face_models.cache_clear()
    real_import = builtins.__import__

    def no_dlib(name, *args, **kwargs):
        if name == "dlib":
            raise ImportError("No module named 'dlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dlib)
    with pytest.raises(VislearnError, match=r"install the people extra: pip install 'vislearn\[people\]'"):
        people.find_faces(["any.jpg"])
    monkeypatch.setattr(builtins, "__import__", real_import)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VislearnError, match="face-recognition-models is not installed; install the people extra"):
        people.load_face_models()
    people.load_face_models.cache_clear()
