"""The per-frame analysers of segment and defects runs: overlays, rows and events (predictions stubbed, no model)."""
import numpy as np

from vislearn.predictions import DefectPrediction, SegmentationMask
from vislearn.watch.analysers import ANALYSERS, PerFrame, WatchOptions
from vislearn.watch.reader import Frame

FRAME = Frame(np.full((32, 48, 3), 100, np.uint8), index=0, captured_s=0.0, clock_s=0.0)


def test_a_segment_frame_gets_its_mask_drawn_over_it(monkeypatch):
    mask_hw = np.zeros((16, 24), np.uint8)
    mask_hw[:, 12:] = 1  # the right half is class 1 (the mask comes at another size than the frame)
    found = SegmentationMask("f.png", mask_hw, {"background": 0.5, "disc": 0.5}, ("background", "disc"))
    monkeypatch.setattr(PerFrame, "predict", lambda self, image: found)
    result = ANALYSERS.get("segment")(None, WatchOptions(), 30.0).analyse(FRAME)
    picture = np.asarray(result.picture)
    assert (picture[:, :24] == 100).all() and (picture[:, 24:] != 100).any(axis=-1).all()
    assert result.row == {"class_fractions": {"background": 0.5, "disc": 0.5}} and result.events == []


def test_a_defective_frame_is_an_event_and_a_good_one_is_not(monkeypatch):
    mask_hw = np.zeros((8, 8), bool)
    mask_hw[:4, :4] = True
    answers = iter([DefectPrediction("f.png", 5.0, True, "local", 5.0, 1.0, np.zeros((8, 8)), mask_hw),
                    DefectPrediction("f.png", 0.5, False, "", 0.5, 0.2, np.zeros((8, 8)), np.zeros((8, 8), bool))])
    monkeypatch.setattr(PerFrame, "predict", lambda self, image: next(answers))
    analyser = ANALYSERS.get("defects")(None, WatchOptions(), 30.0)
    bad, good = analyser.analyse(FRAME), analyser.analyse(FRAME)
    assert bad.events == [{"event": "defect", "kind": "local", "score": 5.0}] and good.events == []
    assert np.asarray(bad.picture)[14, 5, 0] > np.asarray(bad.picture)[14, 5, 1]  # red where the mask is (top-left quarter, under the text)
    assert analyser.summary() == {"defective_frames": 1}
