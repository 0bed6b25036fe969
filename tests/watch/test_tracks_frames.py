"""The tracks-frames detection set: frames where objects hide each other, each kept object with its whole box."""
import numpy as np

from vislearn.data.coco import read_coco
from vislearn.data.samples.detect import write_detect_sample
from vislearn.data.samples.tracks import _background, _movers, render
from vislearn.data.samples.tracks_frames import clip_frames, write_tracks_frames


def test_partly_hidden_objects_keep_their_whole_box_and_mostly_hidden_ones_are_left_out():
    hidden_but_kept = 0
    for seed in range(2):
        rng = np.random.default_rng(seed)  # the same draws as clip_frames makes for this seed
        canvas, movers = _background("texture", 64, rng), _movers(6, 64, rng, (0.22, 0.34), (1.0, 2.5))
        for _, boxes, _ in clip_frames(seed, 64, 20, 1, 6, 0.2):
            _, rows = render(canvas, movers)
            whole = {(x, y, x + w, y + h): v for _, x, y, w, h, _, v in rows}
            assert {tuple(b) for b in boxes.astype(int).tolist()} == {b for b, v in whole.items() if v >= 0.2}
            hidden_but_kept += sum(0.2 <= v < 0.9 for v in whole.values())
            for m in movers:
                m.step(64)
    assert hidden_but_kept > 0  # the set does show objects partly behind others


def test_frames_are_added_to_a_detection_set_in_both_layouts(tmp_path):
    write_detect_sample(tmp_path, limit=5, size=32)
    written = write_tracks_frames(tmp_path, clips=3, every=30, frames=60, size=48)
    train, val = read_coco(tmp_path / "annotations_train.json").records, read_coco(tmp_path / "annotations_val.json").records
    assert written == 6 and len(train) == 5 + 4 and len(val) == 4 + 2
    assert sum("frame_" in r.path for r in train) == 4 and all((tmp_path / "labels" / "train" / f"{n}.txt").exists()
                                                              for n in ("0000", "frame_000_00000"))
