"""End to end on generated look-alike items (grey drawings of three kinds, many variants each, random names):
the number of groups, honest names and the logged choices."""
import json
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.metrics import normalized_mutual_info_score

from vislearn.tasks.organize.index import OrganizeOptions, organize

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def _draw(kind: str, rng: random.Random) -> Image.Image:
    """A 48 px grey look-alike: a ring, a bar or a cross of random size, place and shade."""
    image = Image.new("L", (48, 48), rng.randint(200, 255))
    d = ImageDraw.Draw(image)
    cx, cy, r, ink = rng.randint(18, 30), rng.randint(18, 30), rng.randint(9, 15), rng.randint(0, 90)
    if kind == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=ink, width=rng.randint(3, 5))
    elif kind == "bar":
        d.rectangle([cx - r, cy - 3, cx + r, cy + 3], fill=ink)
    else:
        d.line([cx - r, cy - r, cx + r, cy + r], fill=ink, width=4)
        d.line([cx - r, cy + r, cx + r, cy - r], fill=ink, width=4)
    return image


def test_look_alike_items_get_a_sensible_count_and_honest_names(tmp_path):
    rng = random.Random(0)
    root, truth = tmp_path / "items", {}
    root.mkdir()
    for kind in ("ring", "bar", "cross"):
        for _ in range(14):
            name = f"{rng.getrandbits(40):010x}.png"
            _draw(kind, rng).convert("RGB").save(root / name)
            truth[name] = kind
    lines = []
    result = organize(root, tmp_path / "index", OrganizeOptions(image_size=64, workers=0), log=lines.append, progress=False)
    groups = json.loads((tmp_path / "index" / "groups.json").read_text())
    assert 2 <= result.n_groups <= 5  # 3 kinds: within a factor 1.5
    predicted = {p.split("/")[-1]: g["id"] for g in groups["groups"] for p in g["images"]}
    predicted.update({p.split("/")[-1]: -1 for p in groups["other"]})
    assert normalized_mutual_info_score([truth[n] for n in truth], [predicted[n] for n in truth]) > 0.6
    assert any(line.startswith("groups: ") and "modularity" in line and "features:" in line for line in lines)
    html = (tmp_path / "index" / "report.html").read_text()
    assert "modularity" in html and "features:" in html  # the gallery says how the count and the features were chosen
    for g in groups["groups"]:  # ImageNet knows no rings and crosses: a group named by classes must be backed by them
        assert g["confident"] or (g["name"] == f"group {g['id'] + 1}" and "low confidence" in g["evidence"])
    assert ("(low confidence)" in html) == (not all(g["confident"] for g in groups["groups"]))
