import json
import os

import numpy as np
import pytest

import vislearn.organize.embed as embed_module
from vislearn.organize.embed import update_store
from vislearn.organize.scan import Found, scan
from vislearn.organize.store import EmbeddingStore, index_lock
from vislearn.errors import VislearnError

from organize_helpers import fingerprint, write_photo


def _run(root, index, embedder, **kw):
    found = [f for f in scan(root, exclude=[index]) if isinstance(f, Found)]
    store = EmbeddingStore(index, embedder.key, embedder.dim)
    update = update_store(store, embedder, found, index, batch_size=2, workers=0, backend="torch", progress=False, log=lambda _m: None, **kw)
    return store, update


def test_store_embeds_once_then_only_new_changed_and_drops_removed(tmp_path, mean_colour_embedder):
    root, index = tmp_path / "photos", tmp_path / "index"
    for i, colour in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250)]):
        write_photo(root / f"p{i}.png", colour, noise_seed=i)
    before = fingerprint(root)
    store, first = _run(root, index, mean_colour_embedder)
    assert (first.embedded, first.reused, first.removed) == (3, 0, 0)
    assert fingerprint(root) == before  # originals untouched
    _, again = _run(root, index, mean_colour_embedder)
    assert (again.embedded, again.reused) == (0, 3)

    write_photo(root / "new.png", (250, 250, 0))
    os.remove(root / "p1.png")
    write_photo(root / "p2.png", (0, 250, 250), size=(30, 30))  # edited: other size and content
    store, third = _run(root, index, mean_colour_embedder)
    assert (third.embedded, third.reused, third.removed) == (2, 1, 1)
    emb = store.load()
    assert [os.path.basename(p) for p in emb.paths] == ["new.png", "p0.png", "p2.png"]
    # mean colour of the edited photo (cyan) is what the store now holds, not the old blue
    assert emb.embedding_nd[2, 0] < 0.2 and emb.embedding_nd[2, 1] > 0.8 and emb.embedding_nd[2, 2] > 0.8
    manifest = json.loads((store.folder / "manifest.json").read_text())
    assert {r["path"] for r in manifest["records"]} == set(emb.paths)
    assert all((store.folder / r["shard"]).exists() for r in manifest["records"])


def test_unreadable_files_are_listed_not_retried_and_run_goes_on(tmp_path, mean_colour_embedder):
    root, index = tmp_path / "photos", tmp_path / "index"
    good = write_photo(root / "good.png", (100, 100, 100))
    (root / "truncated.png").write_bytes(good.read_bytes()[:60])
    (root / "fake.jpg").write_bytes(b"this is not a jpeg at all")
    write_photo(root / "huge.png", (1, 1, 1), size=(64, 64))
    store, update = _run(root, index, mean_colour_embedder, max_pixels=50 * 50)
    assert (update.embedded, update.failed) == (1, 3)
    reasons = {os.path.basename(s.path): s.reason for s in store.failures()}
    assert set(reasons) == {"truncated.png", "fake.jpg", "huge.png"}
    assert "pixel limit" in reasons["huge.png"] and "not an image" in reasons["fake.jpg"]
    _, again = _run(root, index, mean_colour_embedder, max_pixels=50 * 50)
    assert (again.embedded, again.failed, again.reused) == (0, 0, 1)  # failures remembered until the file changes
    assert len(store.failures()) == 3


def test_interrupted_run_keeps_finished_shards(tmp_path, mean_colour_embedder, monkeypatch):
    root, index = tmp_path / "photos", tmp_path / "index"
    for i in range(6):
        write_photo(root / f"p{i}.png", (40 * i, 0, 0), noise_seed=i)
    monkeypatch.setattr(embed_module, "SHARD_SIZE", 2)
    calls = {"n": 0}
    real_split = mean_colour_embedder.split

    def split_then_die(outputs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_split(outputs)

    monkeypatch.setattr(mean_colour_embedder, "split", split_then_die)
    with pytest.raises(KeyboardInterrupt):
        _run(root, index, mean_colour_embedder)
    monkeypatch.setattr(mean_colour_embedder, "split", real_split)
    store, resumed = _run(root, index, mean_colour_embedder)
    assert (resumed.reused, resumed.embedded) == (4, 2)
    emb = store.load()
    assert len(emb.paths) == 6 and np.isfinite(emb.embedding_nd).all()
    assert len(list(store.folder.glob("shard_*"))) == 3


def test_shards_made_elsewhere_merge_into_the_store(tmp_path, mean_colour_embedder):
    import torch

    from vislearn.errors import VislearnError
    from vislearn.organize.records import ImageRecord
    from vislearn.organize.store import write_shard

    records = [ImageRecord(f"/photos/{i}.jpg", 4, 4, 10, 1, "ab" * 32, 7) for i in range(3)]
    shard = write_shard(tmp_path / "worker0.safetensors", mean_colour_embedder.key, records, torch.eye(3), torch.zeros(3, 5), torch.zeros(3, 5))
    store = EmbeddingStore(tmp_path / "index", mean_colour_embedder.key, 3)
    assert store.merge([shard]) == 3
    emb = EmbeddingStore(tmp_path / "index", mean_colour_embedder.key, 3).load()  # reread from disk
    assert emb.paths == ["/photos/0.jpg", "/photos/1.jpg", "/photos/2.jpg"] and np.array_equal(emb.embedding_nd, np.eye(3))
    other = EmbeddingStore(tmp_path / "index", "another-embedder", 3)
    with pytest.raises(VislearnError, match="same embedder"):
        other.merge([shard])


def test_each_new_photo_is_read_once_for_both_its_sha256_and_its_pixels(tmp_path, monkeypatch):
    import builtins
    import hashlib
    import io

    from vislearn.data.images import read_image
    from vislearn.organize.embed import CollectionDataset

    photo = write_photo(tmp_path / "p.png", (10, 200, 30))
    opened = []

    def counting(real):
        def open_(file, *args, **kwargs):
            if os.fspath(file) == str(photo):
                opened.append(file)
            return real(file, *args, **kwargs)
        return open_

    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(io, "open", counting(io.open))
    found = Found(str(photo), photo.stat().st_size, photo.stat().st_mtime_ns)
    image_chw, index, record = CollectionDataset([found], lambda image: np.asarray(image))[0]
    assert len(opened) == 1
    monkeypatch.undo()
    assert record.sha256 == hashlib.sha256(photo.read_bytes()).hexdigest() and (record.width, record.height) == (24, 20)
    assert np.array_equal(image_chw, np.asarray(read_image(photo)))


def test_a_second_run_on_the_same_index_is_refused_while_the_first_holds_it(tmp_path):
    """Two runs writing one store interleave shards and corrupt it: the second one stops at once and says why."""
    with index_lock(tmp_path):
        with pytest.raises(VislearnError, match="another `vislearn organize` .*pid"):
            with index_lock(tmp_path):
                pass
    with index_lock(tmp_path):  # released when the first run ends (the OS also drops it on kill -9)
        pass
