"""The organize report decodes each photo once per report, however many sections show it."""
from collections import Counter

import numpy as np

import vislearn.report.gallery as gallery
from vislearn.organize.cluster import Grouping
from vislearn.organize.duplicates import DuplicateGroup
from vislearn.organize.naming import GroupName
from vislearn.organize.records import ImageRecord
from vislearn.organize.store import Embeddings

from organize_helpers import write_photo


def test_a_photo_shown_twice_is_decoded_once_per_report(tmp_path, monkeypatch):
    a, b, c = (str(write_photo(tmp_path / f"{n}.png", colour, noise_seed=i))
               for i, (n, colour) in enumerate([("a", (200, 0, 0)), ("b", (190, 10, 0)), ("c", (0, 0, 200))]))
    records = [ImageRecord(p, 24, 20, 0, 0, "", 0) for p in (a, b, c)]
    emb = Embeddings(records, np.eye(3, dtype=np.float32), np.full((3, 5), -1), np.zeros((3, 5)))
    grouping = Grouping(np.array([0, 0, -1]), 1, [[0, 1]], np.array([0.9, 0.8, 0.1]), "test", {})
    names = [GroupName("red", "test", "numbered")]
    duplicates = [DuplicateGroup(a, [b], "near", "test")]  # a and b: typical of their group and duplicates too
    decoded = Counter()
    real_read = gallery.read_image
    monkeypatch.setattr(gallery, "read_image", lambda path: decoded.update([str(path)]) or real_read(path))

    context = gallery.gallery_context(tmp_path, emb, grouping, names, duplicates, [], [], "test")
    assert decoded == {a: 1, b: 1, c: 1}
    keep, typical = context["duplicates"][0]["keep"], context["groups"][0]["thumbs"][0]
    assert keep["uri"] == typical["uri"] and keep["uri"].startswith("data:image/jpeg;base64,")
    assert (keep["note"], typical["note"]) == ("keep", "0.90")
    assert context["outliers"][0]["path"] == c

    gallery.gallery_context(tmp_path, emb, grouping, names, duplicates, [], [], "test")
    assert decoded == {a: 2, b: 2, c: 2}  # a new report reads the files again: they may have changed
