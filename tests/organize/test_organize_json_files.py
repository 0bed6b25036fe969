"""Every JSON file ``organize`` writes goes through the atomic writer, in the layout it always had."""
import json

import vislearn.files as checkpoint  # the atomic writer lives in vislearn.files (issue 14)
import vislearn.tasks.organize.index as organize_task

from organize_helpers import write_photo


def test_every_organize_json_file_is_written_atomically_in_its_usual_layout(tmp_path, monkeypatch, mean_colour_embedder):
    for i, (folder, colour) in enumerate([("red", (250, 0, 0)), ("red", (240, 10, 0)), ("red", (230, 0, 20)),
                                          ("blue", (0, 0, 250)), ("blue", (0, 10, 240)), ("blue", (20, 0, 230))]):
        write_photo(tmp_path / "photos" / folder / f"p{i}.png", colour, noise_seed=i)
    atomic = []
    real = checkpoint.atomic_write_bytes
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", lambda path, write: atomic.append(path.name) or real(path, write))
    monkeypatch.setattr(organize_task, "load_embedder", lambda *_a, **_k: mean_colour_embedder)
    index = tmp_path / "index"
    options = organize_task.OrganizeOptions(workers=0, evaluate_labels=True, groups=2, backend="torch")
    organize_task.organize(tmp_path / "photos", index, options, log=lambda _m: None, progress=False)

    written = {p.name for p in index.rglob("*.json")}
    assert written == {"organize.json", "groups.json", "quality.json", "manifest.json", "index.json"}
    assert written <= set(atomic)
    assert not list(index.rglob("*.tmp"))
    for name in ("organize.json", "groups.json", "quality.json"):  # indented by one space, as before
        text = next(index.rglob(name)).read_text()
        assert text == json.dumps(json.loads(text), indent=1)
    for name in ("manifest.json", "index.json"):  # large: one compact line, as before
        text = next(index.rglob(name)).read_text()
        assert text == json.dumps(json.loads(text))
