"""`vislearn watch` on a detect run: the tracks sample in, an annotated video, events and counts out; tracking metrics."""
import json

import av
import numpy as np
import pytest
from tiny_runs import train_tiny

from vislearn.cli import main
from vislearn.data.samples.detect import write_detect_sample
from vislearn.data.samples.tracks import write_tracks_sample
from vislearn.watch.mot import read_mot, score_tracks, track_truth_boxes


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracks") / "t"
    write_tracks_sample(folder, limit=60, size=96)
    return folder


@pytest.fixture(scope="module")
def det_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    write_detect_sample(root / "data", limit=8, size=64)
    train_tiny("detect", data=str(root / "data"), model="tiny_det", image_size=64, batch_size=8, out=str(root / "run"))
    return root / "run"


def test_the_tracks_sample_has_moving_occluding_objects_and_mot_truth(tracks):
    rows = np.loadtxt(tracks / "gt" / "gt.txt", delimiter=",")
    assert set(rows[:, 0].astype(int)) == set(range(1, 61)) and set(rows[:, 1].astype(int)) == {1, 2, 3, 4}
    assert rows[:, 8].min() < 0.9  # somebody is partly hidden behind somebody else at least once
    first, last = rows[rows[:, 1] == 1][0], rows[rows[:, 1] == 1][-1]
    assert np.abs(first[2:4] - last[2:4]).max() > 20  # it moved
    with av.open(str(tracks / "video.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 60


def test_ground_truth_boxes_through_the_tracker_keep_their_identities(tracks):
    truth = read_mot(tracks / "gt" / "gt.txt")
    metrics = score_tracks(truth, track_truth_boxes(truth), frames=60)
    assert metrics["idf1"] >= 0.9 and metrics["num_switches"] <= 2  # measured 0.997, 0 switches on the 180-frame sample


def test_swapped_identities_are_caught_by_the_metrics(tracks):
    truth = read_mot(tracks / "gt" / "gt.txt")
    swapped = [(f, np.where(ids % 2 == (f > 30), ids, -ids), boxes) for f, ids, boxes in track_truth_boxes(truth)]
    metrics = score_tracks(truth, swapped, frames=60)
    assert metrics["num_switches"] >= 2 and metrics["idf1"] < 0.9


def test_watch_writes_an_annotated_video_events_and_counts(det_run, tracks, tmp_path, capsys):
    out, events = tmp_path / "annotated.mp4", tmp_path / "events.jsonl"
    code = main(["watch", str(det_run), str(tracks / "video.mp4"), "--out", str(out), "--events", str(events), "--line", "48,0,48,96",
                 "--zone", "0,0,48,0,48,48,0,48", "--conf", "0.05", "--gt", str(tracks / "gt" / "gt.txt"), "--json", "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["processed_frames"] == 60 and summary["dropped_frames"] == 0 and summary["kind"] == "file"
    assert {"line_counts", "zone_counts", "tracks", "lag_s", "processed_fps", "source_fps"} <= set(summary)
    assert 0.0 <= summary["tracking"]["idf1"] <= 1.0 and summary["tracking"]["num_objects"] == 240
    with av.open(str(out)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 60
    for line in events.read_text().splitlines():
        assert json.loads(line)["event"] in {"crossed line", "entered zone", "left zone"}


def test_watch_on_a_classify_run_smooths_the_class_and_reports_referred_frames(tracks, tmp_path, make_digits):
    from tiny_runs import SMALL_CLASSIFIER

    from vislearn.watch.loop import watch

    digits = make_digits(tmp_path / "digits", per_class=20, classes=range(3))
    run = train_tiny("classify", data=str(digits), out=str(tmp_path / "run"), **SMALL_CLASSIFIER)
    events = tmp_path / "events.jsonl"
    summary = watch(run, str(tracks / "video.mp4"), events=events, max_frames=8, log=lambda m: None)
    assert summary["processed_frames"] == 8 and 0 <= summary["referred_frames"] <= 8
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(rows) == summary["referred_frames"] and all(r["event"] == "referred frame" and r["reason"] for r in rows)
