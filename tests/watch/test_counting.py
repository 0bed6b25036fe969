"""Line and zone counts per class and direction, and their events."""
import numpy as np
import pytest

from vislearn.watch.counting import LineCounter, ZoneCounter, parse_points
from vislearn.watch.track import TrackedBoxes

NAMES = ["cup", "cat"]


def one_box(x: float, y: float, track_id: int, class_id: int) -> TrackedBoxes:
    return boxes([(x, y, track_id, class_id)])


def boxes(rows) -> TrackedBoxes:
    """One frame's tracks from (x, y, track_id, class_id) rows: 10 x 10 boxes."""
    return TrackedBoxes(np.array([[x, y, x + 10, y + 10] for x, y, _, _ in rows], np.float32), np.array([c for *_, c in rows]),
                        np.full(len(rows), 0.9, np.float32), np.array([t for _, _, t, _ in rows]))


def test_a_vertical_line_counts_each_crossing_once_per_class_and_direction():
    line, events = LineCounter([(50, 0), (50, 100)]), []
    for x in range(0, 100, 5):  # track 1 (cup) left to right, track 2 (cat) right to left, track 3 (cup) never reaches it
        events += line.update(boxes([(x, 10, 1, 0), (95 - x, 40, 2, 1), (min(x, 20), 70, 3, 0)]), NAMES)
    assert {k: dict(v) for k, v in line.counts.items()} == {"cup": {"in": 1}, "cat": {"out": 1}}
    assert [(e["event"], e["track_id"], e["direction"]) for e in events] == [("crossed line", 1, "in"), ("crossed line", 2, "out")]


def test_a_zone_reports_entering_and_leaving_and_who_is_inside():
    zone = ZoneCounter([(40, 0), (80, 0), (80, 100), (40, 100)])
    events = []
    for x in range(0, 100, 5):
        events += zone.update(one_box(x, 10, 1, 1), NAMES)
        if x == 60:
            assert zone.inside == {1: "cat"}
    assert [e["event"] for e in events] == ["entered zone", "left zone"]
    assert dict(zone.counts["cat"]) == {"entered": 1, "left": 1} and zone.inside == {}


def test_points_are_parsed_and_bad_ones_name_the_flag():
    assert parse_points("1,2,3,4", "--line", 2) == [(1.0, 2.0), (3.0, 4.0)]
    with pytest.raises(ValueError, match="--zone"):
        parse_points("1,2,3,4", "--zone", 3)
    with pytest.raises(ValueError, match="--line"):
        parse_points("1,a,3,4", "--line", 2)
