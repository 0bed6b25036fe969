"""Decoded images kept on disk between runs: a second run over the same files maps them bit for bit without decoding,
any change to a file's bytes (or the kept size) decodes afresh, a half-written or oversized store is never read,
unreadable files are still reported by name; decoding in loader processes equals decoding in this one."""
import numpy as np
import pytest
from PIL import Image

from vislearn.data import Sample, decoded_store, image_cache
from vislearn.data.image_cache import decode_once, decode_or_reuse, estimated_bytes, kept_size


def _same(a, b) -> bool:
    return (np.array_equal(np.asarray(a.buffer), np.asarray(b.buffer)) and np.array_equal(a.offsets, b.offsets)
            and np.array_equal(a.shapes, b.shapes) and sorted(a.problems) == sorted(b.problems))


@pytest.fixture
def store(tmp_path, monkeypatch):
    folder = tmp_path / "store"
    monkeypatch.setenv("VISLEARN_CACHE_DIR", str(folder))
    return folder


def test_a_second_run_maps_the_stored_pictures_without_decoding(tmp_path, store, monkeypatch, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    first, note = decode_or_reuse(samples, 256, workers=0)
    assert "kept in" in note and len(list(store.glob("*.u8"))) == 1
    monkeypatch.setattr(image_cache, "decode_once", lambda *a, **k: pytest.fail("decoded again"))
    second, note = decode_or_reuse(samples, 256, workers=0)
    assert note.startswith("reused") and _same(first, second)
    assert all(np.array_equal(np.asarray(first.image(i)), np.asarray(second.image(i))) for i in range(len(samples)) if i != 4)


def test_a_rewritten_file_or_another_kept_size_decodes_afresh(tmp_path, store, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    decode_or_reuse(samples, 256, workers=0)
    Image.new("RGB", (12, 10), (1, 2, 3)).save(samples[1].path)  # same name and picture size, other bytes
    changed, note = decode_or_reuse(samples, 256, workers=0)
    assert not note.startswith("reused") and changed.image(1).getpixel((0, 0)) == (1, 2, 3)
    _, note = decode_or_reuse(samples, 8, workers=0)
    assert not note.startswith("reused") and len(list(store.glob("*.json"))) == 3
    _, note = decode_or_reuse(samples[::-1], 256, workers=0)  # order is part of the key: the buffer is in sample order
    assert not note.startswith("reused")


def test_an_unreadable_file_is_reported_by_its_current_name_after_a_move(tmp_path, store, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    decode_or_reuse(samples, 256, workers=0)
    (tmp_path / "images").rename(tmp_path / "moved")
    moved = [Sample(s.path.replace("/images/", "/moved/"), s.label) for s in samples]
    cache, note = decode_or_reuse(moved, 256, workers=0)
    assert note.startswith("reused") and list(cache.problems) == [4]
    assert cache.problems[4].path.endswith("moved/broken.png") and cache.problems[4].reason
    with pytest.raises(Exception, match="broken.png"):
        cache.image(4)


def test_a_half_written_entry_is_not_read(tmp_path, store, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    decode_or_reuse(samples, 256, workers=0)
    (u8,) = store.glob("*.u8")
    u8.write_bytes(u8.read_bytes()[:-1])
    _, note = decode_or_reuse(samples, 256, workers=0)
    assert not note.startswith("reused")
    for meta in store.glob("*.json"):
        meta.unlink()
    _, note = decode_or_reuse(samples, 256, workers=0)
    assert not note.startswith("reused")


def test_the_store_drops_the_least_recently_used_entries_beyond_its_bound(tmp_path, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    decoded = decode_once(samples, 256, workers=0)
    for key in ("a", "b", "c"):
        assert decoded_store.save(tmp_path / "s", key, decoded, keep_bytes=10**9)
    assert decoded_store.load(tmp_path / "s", "a", samples) is not None  # "a" used last: "b" is the oldest now
    entry = sum(f.stat().st_size for f in (tmp_path / "s").glob("c.*"))
    assert decoded_store.prune(tmp_path / "s", keep_bytes=2 * entry) == ["b"]
    assert sorted(p.stem for p in (tmp_path / "s").glob("*.json")) == ["a", "c"]


def test_off_keeps_nothing_and_memory_mode_does_not_write(tmp_path, store, monkeypatch, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=6)
    _, note = decode_or_reuse(samples, 256, workers=0, keep=False)
    assert "not kept" in note and not store.exists()
    monkeypatch.setenv("VISLEARN_CACHE_DIR", "off")
    _, note = decode_or_reuse(samples, 256, workers=0)
    assert "not kept" in note and not store.exists()


def test_decoding_in_loader_processes_equals_decoding_here_bit_for_bit(tmp_path, write_noise_pngs):
    samples = write_noise_pngs(tmp_path / "images", count=9)
    assert _same(decode_once(samples, 8, workers=0), decode_once(samples, 8, workers=2))


def test_the_size_estimate_reads_a_spread_sample_of_headers(tmp_path, monkeypatch, write_noise_pngs):
    samples = [s for s in write_noise_pngs(tmp_path / "images", count=6) if "broken" not in s.path]
    exact = sum(w * h * 3 for w, h in (kept_size(12, 9 + i, 256) for i in range(6)))
    assert estimated_bytes(samples, 256) == exact
    read = []
    monkeypatch.setattr(image_cache, "size_or_problem", lambda p: (read.append(p), ((10, 10), None))[1])
    assert estimated_bytes(samples * 100, 256, sampled=50) == 600 * 300 and 40 <= len(read) <= 50


def test_the_listings_digests_give_the_same_key_without_reading_the_files_again(tmp_path, monkeypatch, make_digits):
    from vislearn.data import read_labelled

    data = read_labelled(make_digits(tmp_path / "digits", 4, range(3)), seed=0)
    samples = data.splits["train"] + data.splits["val"]
    assert set(data.digests) == {s.path for part in data.splits.values() for s in part}  # every listed file, hashed once
    read_again = decoded_store.content_key(samples, 256)
    monkeypatch.setattr(decoded_store, "_file_digest", lambda path: pytest.fail(f"{path} read again"))
    assert decoded_store.content_key(samples, 256, data.digests) == read_again
    assert decoded_store.content_key(samples[::-1], 256, data.digests) != read_again  # order still part of the key
