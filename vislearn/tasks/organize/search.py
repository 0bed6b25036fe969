"""``vislearn search INDEX``: the photos most like an example image, or matching words.

Text search uses the image-text model when the index was built with ``openclip:<arch>``. With the offline
embedders it falls back to the ImageNet classes Lite0 predicted: an image scores the top-5 probability of
the classes the words stand for (``naming.classes_for_word``: "cat" -> every cat breed, "seashore" -> itself).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ...data.images import read_image
from ...data.transforms import eval_transform
from ...errors import VislearnError
from ...models.backbones import Preprocessing
from ...organize.naming import classes_for_word
from ...organize.search import Hit, SearchIndex
from ...organize.store import EmbeddingStore
from .index import SETTINGS, OrganizeOptions, load_embedder


def _options(index_dir: Path) -> tuple[OrganizeOptions, str]:
    path = index_dir / SETTINGS
    if not path.is_file():
        raise VislearnError(f"{path}: missing; build the index first with `vislearn organize DIR --out {index_dir}`")
    data = json.loads(path.read_text())
    key = data.pop("embedder_key")
    data.pop("collection", None)
    data["names"] = tuple(data.get("names") or ())
    return OrganizeOptions(**data), key


@torch.inference_mode()
def embed_image(embedder, image_path: str) -> np.ndarray:
    pre = Preprocessing(embedder.mean, embedder.std, embedder.image_size)
    batch = eval_transform(pre)(read_image(image_path))[None]
    return embedder.split(embedder.model.eval()(batch)).embedding_nd.numpy()


def search_by_image(index_dir: str | Path, image: str, k: int = 10) -> list[Hit]:
    index_dir = Path(index_dir)
    options, _ = _options(index_dir)
    embedder = load_embedder(options, index_dir, progress=False, log=lambda _m: None)
    return SearchIndex.load(index_dir / "search").search(embed_image(embedder, image), k)[0]


def search_by_text(index_dir: str | Path, text: str, k: int = 10) -> tuple[list[Hit], str]:
    """Hits and how they were found ("image-text model" or "ImageNet classes: ...")."""
    index_dir = Path(index_dir)
    options, key = _options(index_dir)
    embedder = load_embedder(options, index_dir, progress=False, log=lambda _m: None)
    if embedder.embed_text is not None:
        query = embedder.embed_text([text]).numpy()
        return SearchIndex.load(index_dir / "search").search(query, k)[0], "image-text model"
    if not embedder.class_names:
        raise VislearnError(f"text search needs an image-text model or the lite0 embedder; this index uses {options.embedder}. "
                            f"Rebuild with --embedder openclip:ViT-B-32 --weights FILE, or search by --image")
    words = [w for w in text.lower().replace(",", " ").split() if len(w) > 2]
    classes = sorted({c for w in words for c in classes_for_word(w, embedder.class_names)})
    if not classes:
        raise VislearnError(f"none of the words in {text!r} match an ImageNet class the offline embedder knows "
                            f"(try everyday words such as cat, dog, beach, food, car, or an image-text model: --embedder openclip:ARCH)")
    emb = EmbeddingStore(index_dir, key, embedder.dim).load()
    scores = np.where(np.isin(emb.top5_index, classes), emb.top5_prob, 0).sum(1)
    order = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
    how = "ImageNet classes: " + ", ".join(embedder.class_names[c].split(",")[0] for c in classes[:6]) + (" ..." if len(classes) > 6 else "")
    return [Hit(emb.paths[i], float(scores[i])) for i in order], how
