"""Find the photos that look most like a query: a FAISS index over L2-normalised embeddings, with paths.

Up to ``exact_below`` images the index is exact (brute-force inner product). Above it the index is an
inverted file (IVF): k-means cells trained on a sample, each query scans the ``nprobe`` nearest cells,
vectors stored as 16-bit floats (half of float32's memory: 1 M x 1280 takes 2.4 GiB, not 4.8 GiB).
``benchmarks/search_latency.py`` measures its latency and recall@10 against the exact index: 1 M x 1280,
1.9 ms per query, recall@10 1.000 on a loaded 2-core CPU.

Index and paths are saved as ``index.faiss`` (faiss.write_index) and ``index.json`` (paths and
settings); nothing is pickled.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np

from vislearn.engine.checkpoint import write_json
from vislearn.errors import VislearnError

INDEX_FILE, META_FILE = "index.faiss", "index.json"
CHUNK_ROWS = 65_536
NPROBE = 16
KMEANS_ITERATIONS = 10  # faiss's default 25 costs 2.5x more and moves recall@10 little
FORMAT = 1


class Hit(NamedTuple):
    path: str
    score: float  # cosine similarity, higher = closer (1.0 = same direction)


class IndexSettings(NamedTuple):
    factory: str  # faiss.index_factory string, e.g. "IDMap2,Flat" or "IVF4000,SQfp16"
    nprobe: int  # IVF cells scanned per query (ignored by the exact index)
    exact_below: int
    storage: str = "SQfp16"  # how the approximate index stores vectors: "SQfp16", "SQ8" or "Flat"


def approximate_factory(n: int, storage: str = "SQfp16") -> tuple[str, int]:
    """IVF settings for ``n`` vectors: about 4 sqrt(n) cells (k-means wants >= 39 vectors per cell), each query
    scanning 16 of them (0.4 % at 1 M: recall@10 and latency in benchmarks/search_latency.py)."""
    cells = max(1, min(int(4 * math.sqrt(n)), n // 39))
    return f"IVF{cells},{storage}", min(cells, NPROBE)


def _as_unit_rows(vectors_nd: np.ndarray, dim: int | None, what: str) -> np.ndarray:
    """Float32 C-contiguous rows of unit length; refuses wrong shapes and non-finite values.

    Rows already of unit length (as the embedding store keeps them) are used as they are, not copied:
    1 M x 1280 float32 is 5 GB. FAISS only reads them.
    """
    x = np.ascontiguousarray(np.asarray(vectors_nd, dtype=np.float32))
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise VislearnError(f"{what}: expected a (N, D) array of embeddings, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise VislearnError(f"{what}: embeddings have {x.shape[1]} dimensions but the index holds {dim}-dimensional "
                            "ones; embed with the same model as the index, or build a new index")
    unit = True
    for start in range(0, len(x), CHUNK_ROWS):  # in chunks: no temporary as large as the input
        norms = np.linalg.norm(x[start:start + CHUNK_ROWS], axis=1)
        if not np.isfinite(norms).all():
            raise VislearnError(f"{what}: embeddings contain NaN or infinite values; re-embed those images")
        unit = unit and bool(np.all(np.abs(norms - 1) < 1e-4))
    if not unit:
        x = x.copy() if x is vectors_nd or np.shares_memory(x, vectors_nd) else x
        faiss.normalize_L2(x)
    return x


def _train_and_fill(factory: str, nprobe: int, vectors_nd: np.ndarray, ids: np.ndarray, seed: int = 0) -> faiss.Index:
    index = faiss.index_factory(vectors_nd.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.niter = KMEANS_ITERATIONS
        sample_size = min(len(vectors_nd), 50 * ivf.nlist)  # faiss warns below 39 per cell, gains little above
        sample = vectors_nd[np.random.default_rng(seed).choice(len(vectors_nd), sample_size, replace=False)]
        index.train(sample)
    if factory.startswith("IVF"):
        faiss.extract_index_ivf(index).nprobe = nprobe
    index.add_with_ids(vectors_nd, ids)
    return index


class SearchIndex:
    """Embeddings of a collection with their paths; ``search`` answers the k closest paths per query."""

    def __init__(self, index: faiss.Index, paths_by_id: dict[int, str], settings: IndexSettings, next_id: int):
        self.index = index
        self.settings = settings
        self._paths_by_id = paths_by_id
        self._ids_by_path = {path: i for i, path in paths_by_id.items()}
        self._next_id = next_id

    # ---- building -------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, embeddings_nd: np.ndarray, paths: list[str], exact_below: int = 50_000,
              storage: str = "SQfp16") -> SearchIndex:
        """Index ``embeddings_nd`` (N, D), row i being ``paths[i]``; exact below ``exact_below`` rows, IVF above.

        ``storage`` is how the approximate index stores vectors: "SQfp16" (16-bit floats, default), "SQ8"
        (8-bit: half the memory, recall@10 0.956 instead of 1.000 in benchmarks/search_latency.py) or "Flat".
        """
        x = _as_unit_rows(embeddings_nd, None, "building the search index")
        _check_paths(paths, len(x))
        if len(x) >= exact_below:
            factory, nprobe = approximate_factory(len(x), storage)
        else:
            factory, nprobe = "IDMap2,Flat", 0
        ids = np.arange(len(x), dtype=np.int64)
        index = _train_and_fill(factory, nprobe, x, ids)
        return cls(index, dict(zip(range(len(x)), paths)), IndexSettings(factory, nprobe, exact_below, storage), len(x))

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def exact(self) -> bool:
        return not self.settings.factory.startswith("IVF")

    def __len__(self) -> int:
        return self.index.ntotal

    def __contains__(self, path: str) -> bool:
        return path in self._ids_by_path

    @property
    def paths(self) -> list[str]:
        return list(self._paths_by_id.values())

    # ---- querying -------------------------------------------------------------------------------------------
    def search(self, queries_qd: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """The ``k`` closest indexed paths for each of the Q query embeddings (Q, D), closest first."""
        q = _as_unit_rows(queries_qd, self.dim, "searching the index")
        if len(self) == 0 or k <= 0:
            return [[] for _ in range(len(q))]
        scores, ids = self.index.search(q, min(k, len(self)))
        return [[Hit(self._paths_by_id[int(i)], min(float(s), 1.0)) for s, i in zip(row_s, row_i) if i >= 0]
                for row_s, row_i in zip(scores, ids)]

    # ---- changing -------------------------------------------------------------------------------------------
    def add(self, embeddings_nd: np.ndarray, paths: list[str]) -> None:
        """Add rows; a path already indexed is replaced (re-embedded after the file changed).

        An exact index that grows past ``exact_below`` is rebuilt as an approximate one.
        """
        x = _as_unit_rows(embeddings_nd, self.dim, "adding to the search index")
        _check_paths(paths, len(x))
        self.remove([p for p in paths if p in self._ids_by_path])
        ids = np.arange(self._next_id, self._next_id + len(x), dtype=np.int64)
        self._next_id += len(x)
        for i, path in zip(ids.tolist(), paths):
            self._paths_by_id[i] = path
            self._ids_by_path[path] = i
        if self.exact and len(self) + len(x) >= self.settings.exact_below:
            self._rebuild_approximate(x, ids)
        else:
            self.index.add_with_ids(x, ids)

    def remove(self, paths: list[str]) -> int:
        """Drop these paths (unknown ones are ignored); returns how many were removed."""
        ids = [self._ids_by_path.pop(p) for p in set(paths) if p in self._ids_by_path]
        if ids:
            for i in ids:
                del self._paths_by_id[i]
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
        return len(ids)

    def _rebuild_approximate(self, new_nd: np.ndarray, new_ids: np.ndarray) -> None:
        flat = faiss.downcast_index(self.index.index)
        old = flat.reconstruct_n(0, flat.ntotal)
        old_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        vectors, ids = np.concatenate([old, new_nd]), np.concatenate([old_ids, new_ids])
        factory, nprobe = approximate_factory(len(vectors), self.settings.storage)
        self.index = _train_and_fill(factory, nprobe, vectors, ids)
        self.settings = self.settings._replace(factory=factory, nprobe=nprobe)

    # ---- files ----------------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``folder/index.faiss`` and ``folder/index.json``; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / INDEX_FILE))
        ids = list(self._paths_by_id)
        meta = {"format": FORMAT, "dim": self.dim, **self.settings._asdict(), "next_id": self._next_id,
                "ids": ids, "paths": [self._paths_by_id[i] for i in ids]}
        write_json(folder / META_FILE, meta, indent=None)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SearchIndex:
        folder = Path(folder)
        index_path, meta_path = folder / INDEX_FILE, folder / META_FILE
        for path in (index_path, meta_path):
            if not path.is_file():
                raise VislearnError(f"{path}: missing; build the index again (vislearn organize) or point to "
                                    "the folder that holds index.faiss and index.json")
        try:
            meta = json.loads(meta_path.read_text())
            settings = IndexSettings(meta["factory"], int(meta["nprobe"]), int(meta["exact_below"]), meta["storage"])
            paths_by_id = dict(zip((int(i) for i in meta["ids"]), meta["paths"], strict=True))
        except (ValueError, KeyError, TypeError) as e:
            raise VislearnError(f"{meta_path}: not a vislearn search index description ({e}); build the index again")
        if meta.get("format") != FORMAT:
            raise VislearnError(f"{meta_path}: index format {meta.get('format')}, this vislearn reads {FORMAT}; "
                                "build the index again")
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as e:
            raise VislearnError(f"{index_path}: unreadable FAISS index ({str(e).splitlines()[0]}); build it again")
        if index.ntotal != len(paths_by_id) or index.d != meta["dim"]:
            raise VislearnError(f"{folder}: index.faiss holds {index.ntotal} vectors of {index.d} dimensions but "
                                f"index.json lists {len(paths_by_id)} paths of {meta['dim']}; the two files come "
                                "from different saves: build the index again")
        if settings.factory.startswith("IVF"):
            faiss.extract_index_ivf(index).nprobe = settings.nprobe
        return cls(index, paths_by_id, settings, int(meta["next_id"]))


def _check_paths(paths: list[str], rows: int) -> None:
    if len(paths) != rows:
        raise VislearnError(f"{rows} embeddings but {len(paths)} paths: give one path per embedding row")
    if len(set(paths)) != len(paths):
        seen: set[str] = set()
        twice = next(p for p in paths if p in seen or seen.add(p))
        raise VislearnError(f"{twice}: listed twice; give each image once")
