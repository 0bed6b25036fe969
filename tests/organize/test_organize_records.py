import numpy as np
from PIL import Image
from skimage import data

from vislearn.organize.candidates import popcount64
from vislearn.organize.records import perceptual_hash


def hamming(a: int, b: int) -> int:
    return int(popcount64(np.array([a ^ b], dtype=np.uint64))[0])


def test_perceptual_hash_survives_resize_and_jpeg_but_separates_different_photos(tmp_path):
    cat = Image.fromarray(data.chelsea())
    small = cat.resize((cat.width // 2, cat.height // 2))
    cat.save(tmp_path / "c.jpg", quality=40)
    recompressed = Image.open(tmp_path / "c.jpg")
    coffee = Image.fromarray(data.coffee())
    h = perceptual_hash(cat)
    assert hamming(h, perceptual_hash(small)) <= 4
    assert hamming(h, perceptual_hash(recompressed)) <= 4
    assert hamming(h, perceptual_hash(coffee)) >= 20


def test_popcount_of_xor_gives_pairwise_hamming_distances():
    hashes = np.array([0, 1, 3, 2**64 - 1], dtype=np.uint64)
    m = popcount64(hashes[:, None] ^ hashes[None, :])
    assert m.tolist() == [[0, 1, 2, 64], [1, 0, 1, 63], [2, 1, 0, 62], [64, 63, 62, 0]]
    assert hamming(int(hashes[1]), int(hashes[3])) == 63
