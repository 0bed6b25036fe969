import json

import numpy as np
import pytest

from vislearn.errors import VislearnError
from vislearn.organize.search import Hit, SearchIndex


def clustered(n, dim=32, clusters=20, seed=0):
    """Unit rows around ``clusters`` centres, like embeddings of photos of a few subjects."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.4 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_returns_cosine_neighbours_closest_first():
    x = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    index = SearchIndex.build(x, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    assert index.exact and len(index) == 4
    hits = index.search(np.array([[2.0, 0, 0]]), k=3)  # not unit length: scores are still cosines
    assert [h.path for h in hits[0]] == ["a.jpg", "b.jpg", "c.jpg"]
    assert [round(h.score, 4) for h in hits[0]] == [1.0, 0.8, 0.0]
    assert isinstance(hits[0][0], Hit)
    assert len(index.search(x[:1], k=50)[0]) == 4  # k larger than the index: all of it, no padding


def test_approximate_index_above_threshold_keeps_recall_at_10_against_exact():
    x = clustered(4000)
    paths = [f"img{i}.jpg" for i in range(4000)]
    exact = SearchIndex.build(x, paths)
    approx = SearchIndex.build(x, paths, exact_below=1000)
    assert exact.settings.factory == "IDMap2,Flat"
    assert approx.settings.factory.startswith("IVF") and not approx.exact
    truth, found = exact.search(x[:200], 10), approx.search(x[:200], 10)
    recall = np.mean([len({h.path for h in t} & {h.path for h in f}) / 10 for t, f in zip(truth, found)])
    assert recall >= 0.9
    assert all(f[0].path == paths[i] for i, f in enumerate(found))  # each image finds itself first


def test_add_remove_and_replace_by_path():
    x = clustered(50)
    index = SearchIndex.build(x[:40], [f"{i}.jpg" for i in range(40)])
    index.add(x[40:], [f"{i}.jpg" for i in range(40, 50)])
    assert len(index) == 50 and index.search(x[45], 1)[0][0].path == "45.jpg"
    assert index.remove(["3.jpg", "45.jpg", "never-indexed.jpg"]) == 2
    assert len(index) == 48 and "3.jpg" not in index
    assert index.search(x[45], 1)[0][0].path != "45.jpg"
    index.add(x[7:8], ["0.jpg"])  # 0.jpg re-embedded: replaced, not added twice
    assert len(index) == 48
    assert [h.path for h in index.search(x[7], 2)[0]] in (["0.jpg", "7.jpg"], ["7.jpg", "0.jpg"])


def test_exact_index_that_grows_past_the_threshold_becomes_approximate():
    x = clustered(1200)
    index = SearchIndex.build(x[:900], [f"{i}" for i in range(900)], exact_below=1000)
    assert index.exact
    index.add(x[900:], [f"{i}" for i in range(900, 1200)])
    assert not index.exact and len(index) == 1200
    assert index.search(x[1100], 1)[0][0].path == "1100"
    assert index.search(x[5], 1)[0][0].path == "5"


@pytest.mark.parametrize("exact_below", [50_000, 500])
def test_save_and_load_round_trip_without_pickle(tmp_path, exact_below):
    x = clustered(800)
    index = SearchIndex.build(x, [f"photos/{i}.jpg" for i in range(800)], exact_below=exact_below)
    index.remove(["photos/1.jpg"])
    index.save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert meta["dim"] == 32 and len(meta["paths"]) == 799 and meta["factory"] == index.settings.factory
    loaded = SearchIndex.load(tmp_path / "idx")
    assert len(loaded) == 799 and loaded.settings == index.settings
    assert loaded.search(x[:20], 5) == index.search(x[:20], 5)
    loaded.add(x[1:2], ["photos/1.jpg"])  # ids keep counting after a load: no clash with saved ones
    assert len(loaded) == 800 and loaded.search(x[1], 1)[0][0].path == "photos/1.jpg"


def test_dimension_mismatch_and_bad_input_are_refused_clearly(tmp_path):
    index = SearchIndex.build(clustered(10, dim=8), [str(i) for i in range(10)])
    with pytest.raises(VislearnError, match="16 dimensions but the index holds 8"):
        index.search(np.ones((1, 16)))
    with pytest.raises(VislearnError, match="16 dimensions but the index holds 8"):
        index.add(np.ones((1, 16)), ["x"])
    with pytest.raises(VislearnError, match="3 embeddings but 2 paths"):
        SearchIndex.build(np.ones((3, 8)), ["a", "b"])
    with pytest.raises(VislearnError, match="a: listed twice"):
        SearchIndex.build(np.ones((2, 8)), ["a", "a"])
    with pytest.raises(VislearnError, match="NaN"):
        index.search(np.full((1, 8), np.nan))
    with pytest.raises(VislearnError, match="index.faiss: missing"):
        SearchIndex.load(tmp_path)
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "index.json").write_text(json.dumps({**json.loads((tmp_path / "idx" / "index.json").read_text()),
                                                             "ids": [0], "paths": ["0"]}))
    with pytest.raises(VislearnError, match="from different saves"):
        SearchIndex.load(tmp_path / "idx")


def test_empty_index_answers_no_hits():
    index = SearchIndex.build(np.ones((1, 4)), ["a"])
    index.remove(["a"])
    assert len(index) == 0 and index.search(np.ones((2, 4)), 5) == [[], []]


def test_callers_embeddings_are_never_modified():
    x = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    index = SearchIndex.build(x, ["a", "b"])
    index.search(x)
    assert x.tolist() == [[3.0, 4.0], [1.0, 0.0]]
