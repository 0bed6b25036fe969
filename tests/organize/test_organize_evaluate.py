import numpy as np
import pytest

from vislearn.organize.evaluate import folder_labels, score


def test_scores_against_hand_computed_values(tmp_path):
    perfect = score("x", ["a", "a", "b", "b"], np.array([1, 1, 0, 0]))
    assert perfect.nmi == pytest.approx(1.0) and perfect.ari == pytest.approx(1.0)
    # contingency [[2, 0], [1, 1]]: pair index sum C(n_ij, 2) = 1, truth pairs 2, predicted pairs 3,
    # expected index 2 * 3 / C(4, 2) = 1, so ARI = (1 - 1) / (2.5 - 1) = 0.
    moved = score("x", ["a", "a", "b", "b"], np.array([0, 0, 0, 1]))
    assert moved.ari == pytest.approx(0.0)
    # MI = ln 2 - 3/4 H(2/3, 1/3); NMI = MI / mean(H(truth) = ln 2, H(pred) = H(3/4, 1/4))
    h = lambda *p: -sum(q * np.log(q) for q in p)  # noqa: E731
    mi = np.log(2) - 0.75 * h(2 / 3, 1 / 3)
    assert moved.nmi == pytest.approx(mi / ((np.log(2) + h(0.75, 0.25)) / 2))
    assert moved.n_groups == 2


def test_folder_labels_are_first_folder_under_root(tmp_path):
    paths = [str(tmp_path / "beach" / "a.jpg"), str(tmp_path / "cat" / "sub" / "b.jpg"), str(tmp_path / "c.jpg")]
    assert folder_labels(paths, tmp_path) == ["beach", "cat", ""]
