"""`vislearn organize DIR --out INDEX --engine ray` against a real local Ray cluster: the store holds the same embeddings."""
import numpy as np
import pytest
from PIL import Image

from vislearn.organize.embed import update_store
from vislearn.organize.embedders import create_embedder
from vislearn.organize.scan import Found, scan
from vislearn.organize.store import EmbeddingStore
from vislearn.tasks.organize.index import OrganizeOptions, organize

SIZE = 64  # pixels lite0 sees: enough to tell the textures apart, fast on 2 cores


def _collection(root):
    """Crops of scikit-image's textures and photos (30 images of 48-80 px) and one broken file."""
    from skimage import data

    rng = np.random.default_rng(1)
    for name in ("brick", "grass", "gravel", "coffee", "chelsea"):
        picture = getattr(data, name)()
        (root / name).mkdir(parents=True)
        for i in range(6):
            side = int(rng.integers(48, 80))
            y, x = (int(rng.integers(0, s - side)) for s in picture.shape[:2])
            Image.fromarray(picture[y:y + side, x:x + side]).convert("RGB").save(root / name / f"{i}.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


@pytest.mark.slow
def test_organize_on_ray_stores_the_embeddings_a_local_run_computes(ray_cluster, tmp_path):
    photos = _collection(tmp_path / "photos")
    options = OrganizeOptions(image_size=SIZE, engine="ray", actors=2, shard_size=8, workers=0, batch_size=8, groups=5)
    result = organize(photos, tmp_path / "index", options, log=lambda _: None, progress=False)
    assert (result.update.embedded, result.update.failed, result.update.backend) == (30, 1, "ray")
    assert not list((tmp_path / "index" / "ray-shards").rglob("*.safetensors"))  # merged into the store, then removed

    embedder = create_embedder("lite0", image_size=SIZE)
    on_ray = EmbeddingStore(tmp_path / "index", embedder.key, embedder.dim).load()
    local = EmbeddingStore(tmp_path / "local", embedder.key, embedder.dim)
    found = [f for f in scan(photos) if isinstance(f, Found)]
    update_store(local, embedder, found, tmp_path / "local", batch_size=8, workers=0, backend="torch", progress=False, log=lambda _: None)
    here = local.load()
    assert on_ray.records == here.records and len(here.records) == 30
    np.testing.assert_allclose(on_ray.embedding_nd, here.embedding_nd, atol=1e-5)
    assert (on_ray.top5_index[:, 0] == here.top5_index[:, 0]).all()

    again = organize(photos, tmp_path / "index", options, log=lambda _: None, progress=False)
    assert (again.update.embedded, again.update.reused) == (0, 30)  # the broken file is remembered, not retried
