"""What keeps `vislearn organize` linear in memory at 100,000 photos: sampled PCA, chunked pair cosines and
neighbour queries, grouping on samples said in words, progress bars that stay off when nobody watches."""
import tracemalloc

import numpy as np
import pytest

import vislearn.organize.candidates as candidates
import vislearn.organize.cluster as cluster
from vislearn.errors import VislearnError
from vislearn.organize.candidates import embedding_neighbours, pair_cosines
from vislearn.organize.progress import StageClock, progress_bar
from vislearn.organize.search import SearchIndex


def _blobs(n_per: int, dim: int, kinds: int = 3, seed: int = 0, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(kinds, dim))
    truth = np.repeat(np.arange(kinds), n_per)
    x = (centres[truth] + spread * rng.normal(size=(len(truth), dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_pair_cosines_match_direct_and_never_gather_all_pairs_at_once(monkeypatch):
    x = np.random.default_rng(0).normal(size=(500, 128)).astype(np.float32)
    first, second = np.random.default_rng(1).integers(500, size=(2, 30_000))
    direct = np.einsum("nd,nd->n", x[first], x[second]) / (np.linalg.norm(x[first], axis=1) * np.linalg.norm(x[second], axis=1))
    np.testing.assert_allclose(pair_cosines(x, first, second), direct, rtol=1e-4, atol=1e-5)
    all_at_once = 2 * len(first) * x.shape[1] * 4  # 31 MB: what gathering every pair's rows would take
    assert _peak_bytes(lambda: pair_cosines(x, first, second)) < all_at_once / 4


def test_pca_fitted_on_a_sample_keeps_the_groups_and_needs_no_centred_copy(monkeypatch):
    x, truth = _blobs(2000, 256)
    monkeypatch.setattr(cluster, "PCA_CHUNK", 1000)
    reduced = cluster.reduce(x, dims=8, fit_sample=500)
    assert reduced.shape == (6000, 8) and reduced.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(reduced, axis=1), 1, atol=1e-5)
    centres = np.stack([reduced[truth == k].mean(0) for k in range(3)])
    assert ((reduced @ centres.T).argmax(1) == truth).all()
    # the old way (centre everything, then PCA on all rows) allocated at least two more copies of the input (6 MB each)
    assert _peak_bytes(lambda: cluster.reduce(x, dims=8, fit_sample=500)) < 0.75 * x.nbytes


def test_grouping_on_samples_finds_the_kinds_and_says_which_samples(monkeypatch):
    monkeypatch.setattr(cluster, "MAX_WARD_POINTS", 40)
    monkeypatch.setattr(cluster, "GRAPH_SAMPLE", 200)
    monkeypatch.setattr(cluster, "PCA_SAMPLE", 300)
    x, truth = _blobs(100, 64, kinds=4)
    grouping = cluster.group_images(x)
    assert grouping.n_groups == 4
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, grouping.group_n) > 0.95
    assert "at 400 images: PCA fitted on 300 sampled images" in grouping.chosen_by
    assert "Ward's tree on 40 k-means micro-clusters" in grouping.chosen_by and "kNN graph of 200 sampled images" in grouping.chosen_by
    assert "sampled" not in cluster.group_images(x[:30]).chosen_by  # small collections: no sampling, nothing said


def test_embedding_neighbours_reuse_an_approximate_index_and_query_in_chunks(monkeypatch):
    x, _ = _blobs(100, 32, kinds=4, spread=0.3)
    x[1] = x[0]  # one planted copy: cosine 1
    exact = set(zip(*embedding_neighbours(x, 0.9)))
    monkeypatch.setattr(candidates, "NEIGHBOUR_CHUNK", 97)
    approximate = SearchIndex.build(x, [str(i) for i in range(len(x))], exact_below=100)
    assert not approximate.exact
    reused = set(zip(*embedding_neighbours(x, 0.9, index=approximate)))
    assert (0, 1) in reused and (0, 1) in exact
    assert len(reused & exact) >= 0.9 * len(exact) and reused <= exact | reused
    assert all(i < j for i, j in reused)
    with pytest.raises(VislearnError, match="holds 399 photos"):
        embedding_neighbours(x, 0.9, index=SearchIndex.build(x[:399], [str(i) for i in range(399)]))


def test_progress_bars_are_off_when_asked_or_when_stderr_is_not_a_terminal(monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not progress_bar(range(3), enabled=True).disable
    assert progress_bar(range(3), enabled=False).disable
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # piped or redirected: no bar
    assert progress_bar(range(3), enabled=True).disable
    assert list(progress_bar(range(3), enabled=True)) == [0, 1, 2]


def test_stage_clock_logs_each_stage_with_its_rate():
    lines = []
    clock = StageClock(lines.append)
    with clock("grouping", 1000):
        pass
    with clock("scan", 0):
        pass
    with clock("embed", 100) as stage:
        stage["n_images"] = 7  # only the new photos
    assert set(clock.seconds) == {"grouping", "scan", "embed"} and all(s >= 0 for s in clock.seconds.values())
    assert lines[0].startswith("grouping: ") and "for 1,000 images" in lines[0] and lines[1].startswith("scan: ")
    assert "for 7 images" in lines[2]


def test_store_records_each_shard_by_one_journal_line_and_a_line_cut_by_a_kill_is_ignored(tmp_path):
    import torch

    from vislearn.organize.records import ImageRecord
    from vislearn.organize.store import JOURNAL, EmbeddingStore

    store = EmbeddingStore(tmp_path, "k", 3)
    for shard in range(3):
        records = [ImageRecord(f"/p/{shard}-{i}.jpg", 4, 4, 10, 1, "ab" * 32, 7) for i in range(2)]
        store.add_shard(records, torch.eye(3)[:2], torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5))
    journal = store.folder / JOURNAL
    assert not (store.folder / "manifest.json").exists() and len(journal.read_text().splitlines()) == 3
    with open(journal, "a") as f:
        f.write('{"generation": 0, "shard": "shard_00003.safeten')  # the kill came while appending
    reread = EmbeddingStore(tmp_path, "k", 3)
    assert len(reread.entries) == 6 and reread.next_shard == 3
    np.testing.assert_array_equal(reread.load().embedding_nd[:2], np.eye(3)[:2])
    reread.keep_only({f"/p/0-{i}.jpg" for i in range(2)})
    reread.save()  # folds the journal into the manifest: its old lines must not bring removed photos back
    assert not journal.exists() and len(EmbeddingStore(tmp_path, "k", 3).entries) == 2
    assert sorted(p.name for p in store.folder.glob("shard_*")) == ["shard_00000.safetensors"]


def test_many_photos_search_neighbours_in_fewer_dimensions_and_keep_copies_and_most_exact_neighbours(monkeypatch):
    """Above APPROXIMATE_ABOVE photos: PCA, an IVF search scanning a few cells, re-ranked by the full cosine."""
    x, _ = _blobs(200, 256, kinds=4, spread=0.3)
    rng = np.random.default_rng(1)
    x[1] = x[0]  # a copy: cosine 1
    x[5] = x[4] + 0.02 * rng.normal(size=256).astype(np.float32)  # a near copy
    x[5] /= np.linalg.norm(x[5])
    exact = set(zip(*embedding_neighbours(x, 0.8)))
    monkeypatch.setattr(candidates, "APPROXIMATE_ABOVE", 100)
    monkeypatch.setattr(candidates, "NEIGHBOUR_CHUNK", 97)
    monkeypatch.setattr(candidates, "REDUCED_NPROBE", 8)  # of 20 cells
    reduced = set(zip(*embedding_neighbours(x, 0.8)))
    assert {(0, 1), (4, 5)} <= reduced
    assert len(reduced & exact) >= 0.8 * len(exact)
    i, j = np.array(sorted(reduced)).T
    assert (i < j).all() and (pair_cosines(x, i, j) >= 0.8).all()
