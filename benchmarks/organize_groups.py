"""How well `vislearn organize` chooses and makes groups on collections made differently from its own sample.

Builds (once, under /tmp/vislearn-bench/groups/) four labelled collections with random file names in one folder:

* ``fashion``: 2,000 Fashion-MNIST test items (10 kinds x 200), 64 px grey PNG (Debian ``dataset-fashion-mnist``)
* ``digits``: scikit-learn's 1,797 digits (10 kinds), 64 px grey PNG
* ``photos``: crops of 12 scikit-image scenes (unequal counts, non-square, bursts of 3 near-identical shots), JPEG
* ``fashion-5`` / ``digits-5``: 5 of the kinds of the two sets above (subsets of the same embeddings)

Each collection is embedded once into an organize store (the same embedder and store as ``vislearn organize``),
then grouped by :func:`vislearn.organize.grouping.group_collection` (what ``organize`` runs) and by k-means given
the true number of kinds on the same embeddings. Prints chosen K, NMI and ARI (scikit-learn) for each.

    .venv/bin/python benchmarks/organize_groups.py                     # all collections
    .venv/bin/python benchmarks/organize_groups.py --sets photos digits
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

ROOT = Path("/tmp/vislearn-bench/groups")
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k")
FASHION_KINDS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
SCENES = ["astronaut", "camera", "cell", "chelsea", "coffee", "coins", "hubble_deep_field", "immunohistochemistry", "moon", "page",
          "retina", "rocket"]
SUBSET_5 = {"fashion-5": ("fashion", ["t-shirt", "trouser", "dress", "sneaker", "bag"]), "digits-5": ("digits", ["0", "1", "3", "7", "8"])}


def _save_flat(folder: Path, images: list[Image.Image], kinds: list[str], ext: str, rng: random.Random, **save) -> None:
    """Images under random names in one folder; the kinds go to ``folder/../<name>.labels.json`` (outside the collection)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for image, kind in zip(images, kinds):
        name = f"{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}.{ext}"
        image.save(folder / name, **save)
        labels[name] = kind
    (folder.parent / f"{folder.name}.labels.json").write_text(json.dumps(labels))


def _idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def build_fashion(folder: Path, per_kind: int = 200, side: int = 64, seed: int = 0) -> None:
    pixels, labels = _idx(Path(f"{FASHION}-images-idx3-ubyte.gz")), _idx(Path(f"{FASHION}-labels-idx1-ubyte.gz"))
    rows = np.concatenate([np.flatnonzero(labels == k)[:per_kind] for k in range(10)])
    images = [Image.fromarray(pixels[i]).resize((side, side), Image.Resampling.BICUBIC) for i in rows]
    _save_flat(folder, images, [FASHION_KINDS[labels[i]] for i in rows], "png", random.Random(seed))


def build_digits(folder: Path, side: int = 64, seed: int = 0) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = [Image.fromarray((255 - im * 16).clip(0, 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
              for im in digits.images]
    _save_flat(folder, images, [str(t) for t in digits.target], "png", random.Random(seed))


def build_photos(folder: Path, seed: int = 0) -> None:
    """Crops of 12 scenes: 4-12 bursts of 3 shots each per scene (a burst: one framing, shifted a few pixels, exposure +-5%)."""
    import skimage.data

    rng = random.Random(seed)
    images, kinds = [], []
    for scene in SCENES:
        picture = np.asarray(getattr(skimage.data, scene)())
        picture = np.repeat(picture[..., None], 3, 2) if picture.ndim == 2 else picture[..., :3]
        h, w = picture.shape[:2]
        for _ in range(rng.randint(4, 12)):
            ch, cw = int(h * rng.uniform(0.3, 0.7)), int(w * rng.uniform(0.3, 0.7))
            y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
            size = rng.randint(120, 300)
            for _ in range(3):
                dy, dx = rng.randint(-8, 8), rng.randint(-8, 8)
                yy, xx = min(max(y + dy, 0), h - ch), min(max(x + dx, 0), w - cw)
                crop = picture[yy:yy + ch, xx:xx + cw].astype(np.float32) * rng.uniform(0.95, 1.05)
                image = Image.fromarray(crop.clip(0, 255).astype(np.uint8))
                images.append(image.resize((size, int(size * ch / cw)), Image.Resampling.BILINEAR))
                kinds.append(scene)
    _save_flat(folder, images, kinds, "jpg", rng, quality=88)


BUILDERS = {"fashion": build_fashion, "digits": build_digits, "photos": build_photos}


def collection(name: str) -> tuple[Path, dict[str, str]]:
    folder = ROOT / name
    labels = ROOT / f"{name}.labels.json"
    if not labels.exists():
        print(f"building {folder} (once) ...", flush=True)
        BUILDERS[name](folder)
    return folder, json.loads(labels.read_text())


def embeddings(name: str, image_size: int):
    """The organize store's embeddings of collection ``name`` (embedded once) and the kinds, in store order."""
    from vislearn.organize.embed import update_store
    from vislearn.organize.embedders import create_embedder
    from vislearn.organize.scan import Found, scan
    from vislearn.organize.store import EmbeddingStore

    folder, labels = collection(name)
    index = ROOT / f"index-{name}-{image_size}"
    embedder = create_embedder("lite0", image_size=image_size)
    store = EmbeddingStore(index, embedder.key, embedder.dim)
    found = [f for f in scan(folder) if isinstance(f, Found)]
    update_store(store, embedder, found, index, workers=1, backend="torch", progress=sys.stderr.isatty(), log=print)
    emb = store.load()
    return emb, [labels[Path(p).name] for p in emb.paths], embedder


def subset(emb, kinds: list[str], keep: list[str]):
    rows = np.array([k in keep for k in kinds])
    return emb._replace(records=[r for r, k in zip(emb.records, rows) if k], embedding_nd=emb.embedding_nd[rows],
                        top5_index=emb.top5_index[rows], top5_prob=emb.top5_prob[rows]), [k for k in kinds if k in keep]


def scores(truth: list[str], labels: np.ndarray) -> tuple[float, float]:
    return normalized_mutual_info_score(truth, labels), adjusted_rand_score(truth, labels)


def evaluate(name: str, emb, truth: list[str], embedder) -> list[tuple]:
    from vislearn.organize.grouping import group_collection

    k_true = len(set(truth))
    start = time.perf_counter()
    result = group_collection(emb.embedding_nd, embedder.parts, emb.top5_prob)
    seconds = time.perf_counter() - start
    pooled = emb.embedding_nd[:, -embedder.pooled_dim:]
    pooled = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    rows = [(name, "vislearn (chooses K)", result.grouping.n_groups, *scores(truth, result.grouping.group_n),
             f"{result.features}; {_names(emb, result.grouping, embedder)}")]
    for what, x in (("full embedding", emb.embedding_nd), ("pooled slice", pooled)):
        km = KMeans(k_true, n_init=10, random_state=0).fit_predict(x)
        rows.append((name, f"k-means true K, {what}", k_true, *scores(truth, km), ""))
    print(f"  {name}: {len(truth)} images, {k_true} kinds; grouping took {seconds:.1f} s; {result.grouping.chosen_by}", flush=True)
    return rows


def _names(emb, grouping, embedder) -> str:
    """How many groups got a word from ImageNet (and which), the rest are "group N" (low confidence)."""
    from vislearn.organize.naming import name_from_classes

    names = [name_from_classes(emb.top5_index[grouping.group_n == g], emb.top5_prob[grouping.group_n == g], embedder.class_names)
             for g in range(grouping.n_groups)]
    words = [n.name for n in names if n.confident]
    return f"named {len(words)}/{len(names)}: {', '.join(words) or '-'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["fashion", "fashion-5", "digits", "digits-5", "photos"])
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    rows, cache = [], {}
    for name in args.sets:
        base, keep = SUBSET_5.get(name, (name, None))
        if base not in cache:
            cache[base] = embeddings(base, args.image_size)
        emb, truth, embedder = cache[base]
        if keep:
            emb, truth = subset(emb, truth, keep)
        rows += evaluate(name, emb, truth, embedder)
    print(f"\n{'set':<10} {'method':<32} {'K':>3} {'NMI':>6} {'ARI':>6}  features")
    for name, method, k, nmi, ari, features in rows:
        print(f"{name:<10} {method:<32} {k:>3} {nmi:6.3f} {ari:6.3f}  {features}")


if __name__ == "__main__":
    main()
