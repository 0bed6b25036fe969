"""The tracker: identities kept per class, boxes handed back in the frame's own pixels."""
import numpy as np

from vislearn.watch.track import Tracker


def _follow(tracker: Tracker, frames: list[tuple[list, list]]) -> list:
    """frames: (boxes_xyxy, class_ids) per frame at 30 FPS -> TrackedBoxes per frame."""
    return [tracker.update(np.asarray(b, np.float32).reshape(-1, 4), np.ones(len(c), np.float32), np.asarray(c), i / 30)
            for i, (b, c) in enumerate(frames)]


def test_a_box_of_another_class_where_a_track_was_does_not_take_its_identity():
    box = [40.0, 50.0, 70.0, 90.0]
    frames = [([box], [0])] * 5 + [([box], [1])] * 3  # a cup, then a cat exactly where the cup was
    by_class = _follow(Tracker(high=0.5), frames)
    assert by_class[4].track_ids.tolist() != by_class[5].track_ids.tolist()
    assert by_class[7].class_ids.tolist() == [1]
    anyhow = _follow(Tracker(high=0.5, by_class=False), frames)
    assert anyhow[4].track_ids.tolist() == anyhow[5].track_ids.tolist()  # what ByteTrack alone does


def test_tracked_boxes_come_back_in_the_frames_pixels_for_every_class():
    frames = [([[10 + i, 10, 40 + i, 30], [60, 60 + i, 80, 90 + i]], [0, 2]) for i in range(6)]
    last = _follow(Tracker(high=0.5), frames)[-1]
    order = np.argsort(last.class_ids)
    assert last.class_ids[order].tolist() == [0, 2] and len(set(last.track_ids.tolist())) == 2
    assert np.abs(last.boxes_xyxy[order] - np.asarray(frames[-1][0], np.float32)).max() < 1e-3
