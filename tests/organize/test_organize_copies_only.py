"""find_duplicates for callers that need copies only (``vislearn review``): hash candidates bounded per photo by the
embeddings' closeness, and no similar groups; the same exact and near groups."""
import numpy as np
from PIL import Image

from vislearn.organize.candidates import closest_partners
from vislearn.organize.duplicates import find_duplicates
from vislearn.organize.planted import burst, look_alike_trousers, plant_copies
from vislearn.organize.records import ImageRecord, sha256_hex


def test_closest_partners_keeps_each_photos_best_pairs_as_a_loop_would():
    rng = np.random.default_rng(0)
    pairs = sorted({(int(min(a, b)), int(max(a, b))) for a, b in rng.integers(0, 30, (300, 2)) if a != b})
    first, second = np.array(pairs).T
    closeness = rng.integers(0, 4, len(pairs)).astype(float)  # many ties: the earlier pair wins
    for per_photo in (1, 3):
        expected = np.zeros(len(pairs), bool)
        for photo in range(30):
            mine = sorted((p for p in range(len(pairs)) if photo in pairs[p]), key=lambda p: (-closeness[p], p))
            expected[mine[:per_photo]] = True
        assert (closest_partners(first, second, closeness, per_photo) == expected).all()


def removable(groups):
    return sorted((g.keep, sorted(g.remove), g.kind) for g in groups if g.kind in ("exact", "near"))


def test_copies_only_finds_the_same_exact_and_near_groups_among_hash_look_alikes(tmp_path):
    """Eight look-alike trousers, three copies of the first (re-saved JPEG, resized, cropped) and a burst of the second,
    all within 11 bits of each other: the copies are the first's farthest hashes, so a bound by Hamming distance would drop them; by the
    embeddings' closeness they stay."""
    trousers = look_alike_trousers(8, seed=2)
    files = [(f"t{i}.png", image) for i, image in enumerate(trousers)]
    rng = np.random.default_rng(0)
    for kind, content, suffix in plant_copies(trousers[0], rng, ["recompressed", "resized", "cropped"]):
        (tmp_path / f"copy_{kind}{suffix}").write_bytes(content)
        files.append((f"copy_{kind}{suffix}", None))
    files.append(("burst.png", burst(trousers[1], (8, 8, 56, 56), rng)))  # another shot of the second: similar, not a copy
    records, pixels = [], []
    for k, (name, image) in enumerate(files):
        if image is not None:
            image.save(tmp_path / name)
        content = (tmp_path / name).read_bytes()
        with Image.open(tmp_path / name) as opened:
            grey = opened.convert("L")
            records.append(ImageRecord(name, grey.width, grey.height, len(content), 0, sha256_hex(content), (1 << k) - 1))
            pixels.append(np.asarray(grey.resize((16, 16), Image.Resampling.BILINEAR), np.float32).ravel())
    embeddings = np.array(pixels) - np.mean(pixels, axis=0)  # photo k's hash: k bits set, so k - m bits from photo m
    everything = find_duplicates(records, embeddings, min_cosine=2.0, root=tmp_path)  # no embedding pairs: hashes alone
    copies = find_duplicates(records, embeddings, min_cosine=2.0, root=tmp_path, hash_partners=2, similar=False)
    assert removable(everything) == removable(copies)
    assert {"t0.png", "copy_recompressed.jpg"} <= {p for g in copies for p in [g.keep, *g.remove]}, removable(everything)
    assert {g.kind for g in copies} <= {"exact", "near"} and "similar" in {g.kind for g in everything}, everything
    assert copies.judging.candidates < everything.judging.candidates == len(records) * (len(records) - 1) // 2
