"""The defect threshold's promise: a split-conformal quantile over good images that tuned nothing."""
import math

import numpy as np
import pytest
import torch

from vislearn.anomaly.detector import Detector
from vislearn.anomaly.threshold import MIN_TAIL_IMAGES, conformal_rank, conformal_threshold, gumbel_tail_bound
from vislearn.metrics.defects import false_alarm_check


def test_threshold_is_the_ceil_n_plus_1_times_1_minus_a_th_smallest_score():
    scores = torch.randperm(39).double() + 1  # 1..39, shuffled
    found = conformal_threshold(scores, 0.05, tail=False)  # k = ceil(40 * 0.95) = 38
    assert found.rank == 38 and found.threshold == 38.0
    assert found.guaranteed_false_alarm == pytest.approx(2 / 40) and found.lowest_supported == pytest.approx(1 / 40)
    assert found.fallback == "" and found.calibration_images == 39 and found.asked_false_alarm == 0.05
    assert conformal_rank(99, 0.01) == 99 and conformal_rank(199, 0.01) == 198 and conformal_rank(19, 0.05) == 19
    assert conformal_threshold(torch.arange(1.0, 100.0), 0.01, tail=False).threshold == 99.0  # 99 images promise 1 %: the largest


def test_a_rate_below_what_the_images_support_falls_back_to_the_largest_score_and_says_so():
    found = conformal_threshold(torch.arange(1.0, 41.0), 0.01, tail=False)  # 40 images: 1/41 = 2.4 % at best
    assert found.threshold == 40.0 and found.rank == 40
    assert found.guaranteed_false_alarm == pytest.approx(1 / 41) and found.guaranteed_false_alarm > 0.01
    assert "40 calibration images cannot promise 1.0%" in found.fallback and "99 calibration images are needed" in found.fallback
    assert "warning" in found.describe() and "2.4%" in found.describe()
    with pytest.raises(ValueError, match="max_false_alarm"):
        conformal_threshold(torch.arange(3.0), 0.0)


@pytest.mark.parametrize("n, rate", [(19, 0.05), (39, 0.05), (40, 0.01)])
def test_new_good_images_pass_the_threshold_at_the_promised_rate_not_more(n, rate):
    # 20,000 draws of n calibration scores and one new score from the same distribution (heavy-tailed, as peaks are):
    # the share of new scores above the threshold is the promise (n + 1 - k) / (n + 1), up to sampling noise (sd 0.15 pp)
    rng = np.random.default_rng(0)
    draws = torch.from_numpy(rng.standard_t(3, size=(20_000, n + 1)))
    first = conformal_threshold(draws[0, :n], rate, tail=False)
    thresholds = torch.sort(draws[:, :n], dim=1).values[:, first.rank - 1]
    promised = first.guaranteed_false_alarm
    passed = (draws[:, n] > thresholds).double().mean().item()
    assert abs(passed - promised) < 0.006 and passed < max(rate, 1 / (n + 1)) + 0.006


class _NoMethod:
    pass


def test_z_scores_come_from_the_tuning_images_and_the_threshold_from_the_calibration_ones_only():
    detector = Detector(_NoMethod(), torch.zeros(1), torch.eye(1))
    tune = (torch.tensor([1.0, 2.0, 3.0])[:, None, None].expand(3, 4, 4).clone(), torch.tensor([10.0, 20.0, 30.0]))
    calibration = (torch.arange(1.0, 20.0)[:, None, None].expand(19, 4, 4).clone() * 0.5, torch.zeros(19))
    c = detector.calibrate(tune, calibration, 0.05)
    assert (c.local.mean, c.local.std) == pytest.approx((2.0, 1.0)) and (c.global_.mean, c.global_.std) == pytest.approx((20.0, 10.0))
    calibration_z = detector.calibrated(*calibration).score_b
    assert c.threshold == pytest.approx(float(calibration_z.max()))  # 19 images, 5 %: k = 19, the largest
    assert c.conformal.calibration_images == 19 and detector.metadata()["conformal"]["rank"] == 19
    restored = Detector.restore(_Loadable(), {"global.mean": torch.zeros(1), "global.precision": torch.eye(1)}, detector.metadata())
    assert restored.calibration.conformal == c.conformal


class _Loadable:
    def load(self, tensors):
        pass


def test_a_few_more_false_alarms_than_promised_are_noise_many_more_are_drift():
    promise_1 = {"calibration_images": 99, "rank": 99, "guaranteed_false_alarm": 0.01}  # the largest of 99: 1 %
    assert not false_alarm_check(3, 100, promise_1)["drift"]  # 3 of 100 happen in ~8 % of calibration draws
    drifted = false_alarm_check(15, 100, promise_1)
    assert drifted["drift"] and drifted["p_value"] < 1e-4 and drifted["rate"] == 0.15
    assert drifted["expected"][0] == 0.0 and 0.02 <= drifted["expected"][1] <= 0.06
    assert false_alarm_check(0, 100, promise_1)["p_value"] == pytest.approx(1.0)
    assert false_alarm_check(1, 100, None) is None  # a run saved before the conformal threshold


def _gumbel(n: int, generator: torch.Generator) -> torch.Tensor:
    return -torch.log(-torch.log(torch.rand(n, generator=generator, dtype=torch.float64)))


def test_the_threshold_is_the_higher_of_the_ranked_score_and_the_tail_bound_from_30_images_up():
    generator = torch.Generator().manual_seed(0)
    scores = _gumbel(40, generator)
    found = conformal_threshold(scores, 0.01)
    assert found.ranked_score == float(scores.max()) and found.tail_bound == gumbel_tail_bound(scores, 0.01)
    assert found.threshold == max(found.ranked_score, found.tail_bound) and found.rank == 40  # the rank's promise stays
    assert "Gumbel tail" in found.describe() and f"{found.tail_bound:.2f}" in found.describe()
    few = conformal_threshold(scores[:MIN_TAIL_IMAGES - 1], 0.01)
    assert few.tail_bound is None and few.threshold == few.ranked_score == float(scores[:MIN_TAIL_IMAGES - 1].max())
    assert gumbel_tail_bound(scores, 0.01) == gumbel_tail_bound(scores, 0.01)  # deterministic
    assert gumbel_tail_bound(scores, 0.01) > gumbel_tail_bound(scores, 0.05)


def test_on_gumbel_scores_the_tail_bound_exceeds_the_asked_quantile_nine_times_in_ten():
    # 200 draws of 40 standard-Gumbel scores: the share of new scores above each draw's bound is exact (the law's tail)
    generator = torch.Generator().manual_seed(1)
    above = torch.tensor([1 - math.exp(-math.exp(-gumbel_tail_bound(_gumbel(40, generator), 0.01, draws=400)))
                          for _ in range(200)])
    assert (above > 0.01).double().mean() < 0.2 and above.mean() < 0.01  # 90 % confidence: about 0.1 of draws above
