import hashlib
import io
import time

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vislearn.errors import VislearnError
from vislearn.organize.duplicates import find_duplicates, hash_neighbours, keep_order, popcount64
from vislearn.organize.records import ImageRecord, perceptual_hash


def record(path, image, fmt="PNG", quality=90):
    buf = io.BytesIO()
    image.save(buf, fmt, quality=quality)
    data_ = buf.getvalue()
    return ImageRecord(path, image.width, image.height, len(data_), 0, hashlib.sha256(data_).hexdigest(),
                       perceptual_hash(Image.open(io.BytesIO(data_))))


def components(n, pairs):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = (np.asarray(x, dtype=np.int64) for x in zip(*pairs)) if pairs else (np.zeros(0, int), np.zeros(0, int))
    return connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)[1].tolist()


def test_hash_neighbours_connects_exactly_the_photos_within_the_distance():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 300, dtype=np.uint64)
    flips = [np.uint64(0)] + [np.uint64(1) << np.uint64(b) for b in range(64)]
    near = np.array([h ^ flips[1 + (i % 64)] ^ flips[1 + ((i * 7) % 64)] ^ flips[1 + ((i * 13 + 5) % 64)]
                     for i, h in enumerate(base[:100])], dtype=np.uint64)  # 1-3 bits away
    hashes = np.concatenate([base, near, base[:5]])  # and 5 identical copies
    for max_hamming in (0, 3, 7, 11):
        i, j = hash_neighbours(hashes, max_hamming)
        d = popcount64(hashes[:, None] ^ hashes[None, :])
        truth = {(a, b) for a, b in zip(*np.nonzero(np.triu(d <= max_hamming, 1)))}
        found = set(zip(i.tolist(), j.tolist()))
        assert found <= truth and len(truth) >= 5
        # a photo with an equal hash pairs only with the first that has it: the same groups, fewer pairs
        assert components(len(hashes), found) == components(len(hashes), truth)
    with pytest.raises(VislearnError, match="max_hamming=20"):
        hash_neighbours(hashes, 20)


def test_exact_copies_group_by_bytes_and_keep_the_shortest_path():
    cat = Image.fromarray(data.chelsea())
    a, coffee = record("holiday/cat.png", cat), record("coffee.png", Image.fromarray(data.coffee()))
    copies = [a._replace(path="backup/old/cat.png"), a, a._replace(path="c.png"), coffee]
    groups = find_duplicates(copies)
    assert len(groups) == 1
    g = groups[0]
    assert (g.keep, sorted(g.remove), g.kind) == ("c.png", ["backup/old/cat.png", "holiday/cat.png"], "exact")
    assert g.reason.startswith("same bytes")


def test_resized_and_recompressed_copies_group_and_the_largest_is_kept():
    cat = Image.fromarray(data.chelsea())
    records = [record("small.jpg", cat.resize((225, 150)), "JPEG", 80),
               record("big.jpg", cat, "JPEG", 40),
               record("big_q95.jpg", cat, "JPEG", 95),
               record("astronaut.png", Image.fromarray(data.astronaut())),
               record("rocket.png", Image.fromarray(data.rocket()))]
    groups = find_duplicates(records)
    assert len(groups) == 1
    g = groups[0]
    assert g.kind == "near" and g.keep == "big_q95.jpg" and sorted(g.remove) == ["big.jpg", "small.jpg"]
    assert "phash distance" in g.reason and "largest file at the largest resolution (451x300" in g.reason


def test_keep_order_prefers_resolution_then_bytes_then_short_path():
    r = ImageRecord("a/long/name.jpg", 100, 100, 10, 0, "x", 0)
    ranked = sorted([r, r._replace(width=200), r._replace(file_bytes=20), r._replace(path="b.jpg")], key=keep_order)
    assert [(x.width, x.file_bytes, x.path) for x in ranked] == [
        (200, 10, "a/long/name.jpg"), (100, 20, "a/long/name.jpg"), (100, 10, "b.jpg"), (100, 10, "a/long/name.jpg")]


def test_embeddings_join_what_the_hash_misses_and_must_align_with_records():
    recs = [ImageRecord(f"{i}.jpg", 10, 10, 10, 0, str(i), h) for i, h in enumerate([0, 2**64 - 1, 2**32 - 1])]
    emb = np.array([[1, 0], [0.999, 0.04], [0, 1]], dtype=np.float32)  # 0 and 1: hashes far apart, same content
    assert find_duplicates(recs) == []
    groups = find_duplicates(recs, emb, min_cosine=0.99)
    assert [(g.keep, g.remove) for g in groups] == [("0.jpg", ["1.jpg"])]
    assert "phash distance 64, cosine 1.00" in groups[0].reason
    with pytest.raises(VislearnError, match="3 records but embeddings of shape"):
        find_duplicates(recs, emb[:2])


def test_fifty_thousand_photos_without_an_n_by_n_matrix():
    rng = np.random.default_rng(1)
    n = 50_000
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    hashes[1::100] = hashes[0::100] ^ np.uint64(0b1011)  # 500 planted near copies, 3 bits away
    recs = [ImageRecord(f"p{i}.jpg", 100, 100, 1000 - i % 100, 0, f"s{i}", int(h)) for i, h in enumerate(hashes)]
    start = time.perf_counter()
    groups = find_duplicates(recs)
    assert time.perf_counter() - start < 20
    assert len(groups) == 500 and all(g.keep == f"p{int(g.remove[0][1:-4]) - 1}.jpg" for g in groups)
