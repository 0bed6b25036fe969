"""Organize a photo collection without labels: scan -> embed (store) -> group -> name -> duplicates -> search index -> files.

Nothing in the collection is written, moved or deleted; ``copy_into``/``link_into`` place copies or links elsewhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ...engine.checkpoint import write_json
from ...errors import DataLayoutError
from ...organize.candidates import takes_index
from ...organize.cluster import OTHER
from ...organize.duplicates import duplicates_summary, find_duplicates
from ...organize.embed import Update, update_store
from ...engine.ray_jobs import CHUNK_SIZE
from ...organize.embed_ray import EmbedderSpec, update_store_on_ray
from ...organize.embedders import Embedder, create_embedder
from ...organize.grouping import group_collection
from ...organize.evaluate import Quality, compare, folder_labels, quality_table
from ...organize.naming import (
    DEFAULT_VOCABULARY, GroupName, everyday_word, name_from_classes, name_from_user_words, name_zero_shot, naming_method,
    unique_names, zero_shot,
)
from ...organize.outputs import groups_for_export, write_duplicates, write_groups, write_skipped
from ...organize.progress import StageClock, progress_bar
from ...organize.scan import Found, Skipped, scan
from ...organize.search import SearchIndex
from ...organize.store import EmbeddingStore, Embeddings, index_lock

SETTINGS = "organize.json"


@dataclass(frozen=True)
class OrganizeOptions:
    embedder: str = "lite0"
    weights: str | None = None
    image_size: int = 224
    groups: int | None = None
    names: tuple[str, ...] = ()
    copy_into: str | None = None
    link_into: str | None = None
    workers: int = -1
    batch_size: int = 32
    backend: str = "auto"
    evaluate_labels: bool = False
    ssl_epochs: int = 15
    people: bool = False  # faces and who is who (optional dlib extra): people.csv
    engine: str = "local"  # where the embedding runs: a key of EMBED_ENGINES
    address: str | None = None  # engine "ray": the cluster to join (None: a local one)
    actors: int | None = None  # engine "ray": actors, one embedder each (None: one per CPU)
    shard_size: int = CHUNK_SIZE  # engine "ray": photos per shard (a killed job loses at most the shards in progress)


class OrganizeResult(NamedTuple):
    index_dir: Path
    n_images: int
    n_groups: int
    n_other: int
    n_duplicate_groups: int
    n_skipped: int
    named_by: str
    update: Update
    quality: list[Quality]
    report: Path
    stage_seconds: dict[str, float] = {}  # wall seconds per stage (scan, embed, grouping, naming, ..., gallery)


def load_embedder(options: OrganizeOptions, index_dir: Path, found: list[Found] = (), log=print, progress=True) -> Embedder:
    extra = {"index_dir": index_dir, "found": found, "epochs": options.ssl_epochs, "workers": options.workers, "log": log,
             "progress": progress} if options.embedder == "self-supervised" else {}
    return create_embedder(options.embedder, weights=options.weights, image_size=options.image_size, **extra)


class Vocabulary(NamedTuple):
    """The words photos and groups are named from, embedded once per run by the image-text model."""

    words: list[str]
    text_qd: np.ndarray  # (Q, D) unit text embeddings of "a photo of <word>", one row per word


def embed_vocabulary(embedder: Embedder, words: tuple[str, ...]) -> Vocabulary | None:
    """The user's words (else :data:`DEFAULT_VOCABULARY`) through the text side; None when the embedder has none."""
    if embedder.embed_text is None:
        return None
    vocabulary = list(words) or DEFAULT_VOCABULARY
    return Vocabulary(vocabulary, embedder.embed_text([f"a photo of {w}" for w in vocabulary]).numpy())


def name_groups(embedder: Embedder, emb: Embeddings, group_n: np.ndarray, n_groups: int, words: tuple[str, ...],
                vocabulary: Vocabulary | None = None) -> list[GroupName]:
    """``vocabulary``: :func:`embed_vocabulary` of ``words``, when the caller already has it."""
    if embedder.embed_text is not None:
        vocabulary = vocabulary if vocabulary is not None else embed_vocabulary(embedder, words)
        centres = [emb.embedding_nd[group_n == g].mean(0) for g in range(n_groups)]
        names = [name_zero_shot(c / max(np.linalg.norm(c), 1e-12), vocabulary.text_qd, vocabulary.words) for c in centres]
    elif embedder.class_names:
        pick = (lambda m, g: name_from_user_words(list(words), emb.top5_index[m], emb.top5_prob[m], embedder.class_names)) if words else \
               (lambda m, g: name_from_classes(emb.top5_index[m], emb.top5_prob[m], embedder.class_names, fallback=f"group {g + 1}"))
        names = [pick(group_n == g, g) for g in range(n_groups)]
    else:
        names = [GroupName(f"group {g + 1}", "this embedder cannot name groups (no classes, no text)", "numbered") for g in range(n_groups)]
    return [n._replace(name=u) for n, u in zip(names, unique_names([n.name for n in names]))]


def image_labels(embedder: Embedder, emb: Embeddings, words: tuple[str, ...], vocabulary: Vocabulary | None = None) -> list[str]:
    """One label per photo: zero-shot over the vocabulary with an image-text model, else the top ImageNet
    class (as its everyday word where there is one), else empty. ``vocabulary`` as in :func:`name_groups`."""
    if not len(emb.embedding_nd):
        return []
    if embedder.embed_text is not None:
        vocabulary = vocabulary if vocabulary is not None else embed_vocabulary(embedder, words)
        best, _ = zero_shot(emb.embedding_nd, vocabulary.text_qd, vocabulary.words)
        return [vocabulary.words[i] for i in best]
    if embedder.class_names:
        return [everyday_word(int(i)) or embedder.class_names[int(i)].split(",")[0] for i in emb.top5_index[:, 0]]
    return [""] * len(emb.embedding_nd)


def write_people(index_dir: Path, paths: list[str], log) -> int:
    """people.csv (person, path): photos of each person found by :mod:`vislearn.organize.people`; returns the count."""
    import csv

    from ...organize.people import find_faces, group_people

    people = group_people(find_faces(paths, skip_unreadable=True))
    with open(index_dir / "people.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["person", "path"])
        w.writerows((person, p) for person, photos in people.items() for p in photos)
    log(f"people: {len(people)} people in {len({p for photos in people.values() for p in photos})} photos (people.csv)")
    return len(people)


def _embed_here(store, embedder, found, index_dir, options: OrganizeOptions, progress: bool, log) -> Update:
    return update_store(store, embedder, found, index_dir, options.batch_size, options.workers, options.backend, progress=progress, log=log)


def _embed_on_ray(store, embedder, found, index_dir, options: OrganizeOptions, progress: bool, log) -> Update:
    spec = EmbedderSpec(options.embedder, options.weights, options.image_size)
    return update_store_on_ray(store, embedder, found, index_dir, spec, options.batch_size, options.backend, options.address,
                               options.actors, options.shard_size, log=log)


# the embedding step by --engine: (store, embedder, found, index_dir, options, progress, log) -> Update
EMBED_ENGINES = {"local": _embed_here, "ray": _embed_on_ray}


def organize(collection: str | Path, index_dir: str | Path, options: OrganizeOptions = OrganizeOptions(),
             log: Callable[[str], None] = print, progress: bool = True) -> OrganizeResult:
    """Scan, embed (resumable: finished shards are kept), then :func:`describe_collection`. Each stage is timed
    (``stage_seconds``) and shows a progress bar on a terminal when ``progress``."""
    root, index_dir = Path(collection), Path(index_dir)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder; give the folder that holds the photos")
    index_dir.mkdir(parents=True, exist_ok=True)
    with index_lock(index_dir):
        return _organize(root, index_dir, options, log, progress)


def _organize(root: Path, index_dir: Path, options: OrganizeOptions, log: Callable[[str], None], progress: bool) -> OrganizeResult:
    clock = StageClock(log)
    outside = [p for p in (index_dir, options.copy_into, options.link_into) if p]
    with clock("scan", 0):
        items = list(progress_bar(scan(root, exclude=outside), enabled=progress, desc="scanning", unit="file"))
    found = [f for f in items if isinstance(f, Found)]
    skipped = [s for s in items if isinstance(s, Skipped)]
    log(f"found {len(found)} images under {root} ({len(skipped)} other files skipped)")
    embedder = load_embedder(options, index_dir, found, log, progress)
    store = EmbeddingStore(index_dir, embedder.key, embedder.dim)
    with clock("embed", len(found)) as stage:
        update = EMBED_ENGINES[options.engine](store, embedder, found, index_dir, options, progress, log)
        emb = store.load()
        stage["n_images"] = update.embedded  # the rate of the photos embedded now, not of those reused
    return describe_collection(root, index_dir, emb, embedder, skipped + store.failures(), update, options, log, progress, clock)


def describe_collection(root: Path, index_dir: Path, emb: Embeddings, embedder: Embedder, skipped: list[Skipped], update: Update,
                        options: OrganizeOptions, log: Callable[[str], None], progress: bool, clock: StageClock) -> OrganizeResult:
    """Everything after embedding, on the store's ``emb`` (N rows): groups, names, duplicates, search index, files, gallery.

    Memory stays linear in N: grouping works on 24 PCA dimensions (fitted on a sample) and k-means micro-clusters,
    duplicates and the kNN graph come from FAISS indexes, the gallery shows a bounded number of thumbnails."""
    n = len(emb.records)
    with clock("grouping", n):
        grouping = group_collection(emb.embedding_nd, embedder.parts, emb.top5_prob if embedder.class_names else None, options.groups,
                                    progress=progress).grouping
    log(f"groups: {grouping.n_groups} ({grouping.chosen_by})")
    with clock("naming", n):
        vocabulary = embed_vocabulary(embedder, options.names)  # once: group names and photo labels both use it
        names = name_groups(embedder, emb, grouping.group_n, grouping.n_groups, options.names, vocabulary)
        labels = image_labels(embedder, emb, options.names, vocabulary)
    with clock("search index", n):
        search = SearchIndex.build(emb.embedding_nd, emb.paths) if n else None
        if search is not None:
            search.save(index_dir / "search")
    # Where the duplicate candidates search reduced embeddings of their own (large collections), the saved index is let
    # go before the pixel tests (0.45 GB at 100,000 photos).
    neighbours, search = (search if takes_index(n) else None), None
    with clock("duplicates", n):  # candidates by hash or embedding (the search index's neighbours), judged on pixels
        duplicates = find_duplicates(emb.records, emb.embedding_nd, neighbour_index=neighbours, progress=progress,
                                     workers=-1 if options.workers < 0 else max(1, options.workers))
    log(duplicates_summary(duplicates))
    with clock("writing files", n):
        write_groups(index_dir, emb.paths, grouping, names, labels)
        write_duplicates(index_dir, duplicates)
        write_skipped(index_dir, skipped)
        write_json(index_dir / SETTINGS, {"collection": str(root.resolve()), "embedder_key": embedder.key, **asdict(options)}, indent=1)
        if options.people:
            write_people(index_dir, emb.paths, log)
        elif (index_dir / "people.csv").exists():
            (index_dir / "people.csv").unlink()  # from an earlier --people run: would describe another collection state
        quality = evaluate_against_folders(root, index_dir, emb, grouping, embedder, options, log)
        if options.copy_into or options.link_into:
            from ...organize.files import export_groups

            placed = export_groups(groups_for_export(emb.paths, grouping, names), options.copy_into or options.link_into,
                                   "copy" if options.copy_into else "link")
            log(f"{'copied' if options.copy_into else 'linked'} {len(placed)} images into {options.copy_into or options.link_into}")
    from ...report.gallery import write_gallery

    with clock("gallery", n):
        report = write_gallery(index_dir, emb, grouping, names, duplicates, skipped, quality, embedder.name, progress=progress)
    return OrganizeResult(index_dir, n, grouping.n_groups, int((grouping.group_n == OTHER).sum()), len(duplicates),
                          len(set(skipped)), naming_method(names), update, quality, report, dict(clock.seconds))


def evaluate_against_folders(root: Path, index_dir: Path, emb: Embeddings, grouping, embedder: Embedder, options: OrganizeOptions,
                             log: Callable[[str], None]) -> list[Quality]:
    """--evaluate-labels: NMI/ARI of the groups against the photos' first folders (quality.json); [] otherwise."""
    if not options.evaluate_labels:
        return []
    truth = folder_labels(emb.paths, root)
    if len(set(truth)) < 2:
        log(f"--evaluate-labels: the photos' first folders under {root} are the true groups; found {len(set(truth))}, need 2 or more")
        return []
    quality = compare(emb.paths, truth, grouping.group_n, emb.embedding_nd, embedder.pooled_dim)
    write_json(index_dir / "quality.json", [q._asdict() for q in quality], indent=1)
    log(quality_table(quality))
    return quality
