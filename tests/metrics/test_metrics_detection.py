"""COCO mAP from pycocotools, pinned against answers worked out by hand on tiny cases."""
import numpy as np
import pytest

from vislearn.metrics.detection import ImageBoxes, detection_report, map_scores


def truth(boxes, classes):
    return ImageBoxes(np.array(boxes, float).reshape(-1, 4), np.array(classes, int))


def found(boxes, classes, scores):
    return ImageBoxes(np.array(boxes, float).reshape(-1, 4), np.array(classes, int), np.array(scores, float))


def test_one_perfect_box_scores_ap_one():
    r = detection_report([truth([[0, 0, 100, 100]], [0])], [found([[0, 0, 100, 100]], [0], [0.9])], ["a", "b"])
    assert r["map"] == pytest.approx(1.0) and r["map50"] == pytest.approx(1.0) and r["map75"] == pytest.approx(1.0)
    assert r["per_class"][0]["ap"] == pytest.approx(1.0)
    assert r["per_class"][1] == {"name": "b", "ap": None, "ap50": None, "ap75": None, "boxes": 0}  # no true box: undefined, not 0


def test_box_with_iou_062_counts_at_three_of_ten_thresholds():
    # IoU = 100 * 62 / (100 * 100) = 0.62: a match at IoU 0.50, 0.55 and 0.60 only, so mAP@[.5:.95] = 3 / 10
    r = detection_report([truth([[0, 0, 100, 100]], [0])], [found([[0, 0, 100, 62]], [0], [0.9])], ["a"])
    assert r["map50"] == pytest.approx(1.0) and r["map75"] == pytest.approx(0.0) and r["map"] == pytest.approx(0.3)


def test_false_positive_ranked_above_the_true_positive_halves_ap():
    # ranked: FP (precision 0, recall 0), TP (precision 1/2, recall 1); interpolated precision is 1/2 at every recall point
    r = detection_report([truth([[0, 0, 100, 100]], [0])],
                         [found([[200, 200, 300, 300], [0, 0, 100, 100]], [0, 0], [0.9, 0.8])], ["a"])
    assert r["map50"] == pytest.approx(0.5) and r["map"] == pytest.approx(0.5)
    assert r["per_image"] == [{"index": 0, "missed": 0, "false_positives": 1, "found": 1}]


def test_one_of_two_objects_found_reaches_recall_half():
    # precision 1 at recall points 0.00..0.50 (51 of COCO's 101), 0 above
    r = detection_report([truth([[0, 0, 100, 100], [200, 200, 250, 250]], [0, 0])], [found([[0, 0, 100, 100]], [0], [0.9])], ["a"])
    assert r["map50"] == pytest.approx(51 / 101)
    assert r["pr_curves"]["precision"]["a"][50] == 1.0 and r["pr_curves"]["precision"]["a"][51] == 0.0
    assert r["per_image"][0]["missed"] == 1


def test_wrong_class_is_a_miss_and_a_false_alarm():
    r = detection_report([truth([[0, 0, 100, 100]], [0])], [found([[0, 0, 100, 100]], [1], [0.9])], ["a", "b"])
    assert r["map"] == pytest.approx(0.0) and r["per_image"][0] == {"index": 0, "missed": 1, "false_positives": 1, "found": 0}


def test_no_detections_and_background_images_score_zero_without_crashing():
    truths = [truth([[0, 0, 10, 10]], [0]), truth([], [])]
    assert map_scores(truths, [found([], [], []), found([], [], [])], ["a"]) == {"map": 0.0, "map50": 0.0}


def test_pycocotools_prints_nothing(capsys):
    detection_report([truth([[0, 0, 10, 10]], [0])], [found([[0, 0, 10, 10]], [0], [1.0])], ["a"])
    assert capsys.readouterr().out == ""


def test_map_by_size_follows_cocos_area_ranges():
    # a 20 x 20 box (area 400 < 32²) found exactly, a 100 x 100 box (area 10,000 > 96²) missed: small 1, large 0, no medium
    r = detection_report([truth([[0, 0, 20, 20], [100, 100, 200, 200]], [0, 0])], [found([[0, 0, 20, 20]], [0], [0.9])], ["a"])
    assert r["map_by_size"]["small"] == pytest.approx(1.0) and r["map_by_size"]["large"] == pytest.approx(0.0)
    assert r["map_by_size"]["medium"] is None
