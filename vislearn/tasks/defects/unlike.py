"""Inputs unlike training in defect runs: another product, another camera, a photo, a blank or a noise image is
referred to a human with the reason "unlike training images", neither called good nor defective.

The score is the detector's whole-image score: the Mahalanobis distance of the image's pooled backbone features
(channel means and spreads over its most normal 80 % of positions) to the Ledoit-Wolf Gaussian of the good
training images, in standard deviations of held-out good images (``global_z`` in the predictions). It costs nothing
extra: every image is scored with it anyway.

The threshold is the larger of two values:
- the score that at most ``max_false_referral`` (``--unlike-rate``, default 2 %) of the held-out good images exceed;
- a floor, ``MIN_UNLIKE_Z`` = 10 standard deviations. Local defects still move the whole-image score a little
  (measured, PatchCore features at 128 px: up to 6.0 on the sample's brick, 2.9 on grass and on Fashion-MNIST
  trousers with drawn holes and tears), while other textures, photos, digits, blanks and noise reach 15-117. A
  threshold at 1-2 % of a few dozen held-out good images sits near 2-3 and would refer most local defects; the floor
  keeps them `defect`. Whole-image defects (blur, colour drift, stretch: 4-36) are often referred: never called good.
Which of the two set the threshold is logged and shown in the report.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ...anomaly.threshold import threshold_at_false_alarm
from ...engine import read_json
from ...metrics.referral import UNLIKE

UNLIKE_TRAINING = UNLIKE  # the refer_reason, the same words as the classification task's referral
MIN_UNLIKE_Z = 10.0
DEFAULT_MAX_FALSE_REFERRAL = 0.02  # TrainConfig.unlike_rate's default (`--unlike-rate`)
VERDICTS = ("good", "defect", UNLIKE_TRAINING)


class UnlikeTraining(NamedTuple):
    """When an image counts as unlike the training images: ``global_z`` above ``threshold``."""

    threshold: float  # max(quantile, floor)
    quantile: float  # held-out good images' whole-image z at the false-referral rate
    floor: float
    max_false_referral: float
    held_out: int  # held-out good images the quantile was taken over

    @property
    def set_by(self) -> str:
        return "floor" if self.floor > self.quantile else "false-referral rate"

    def describe(self) -> str:
        """One line for the log and the report."""
        best = 1 / (self.held_out + 1)
        note = (f" ({self.held_out} held-out images can resolve rates down to {best:.1%} only)"
                if best > self.max_false_referral else "")
        return (f"unlike-training threshold {self.threshold:.1f} (whole-image z): the {self.max_false_referral:.1%} "
                f"false-referral quantile of {self.held_out} held-out good images is {self.quantile:.2f}{note}; "
                f"set by the {self.set_by} ({self.floor:g}, above what local defects reach)")


def fit_unlike_training(held_out_global_z: torch.Tensor, max_false_referral: float = DEFAULT_MAX_FALSE_REFERRAL,
                        floor: float = MIN_UNLIKE_Z) -> UnlikeTraining:
    """``held_out_global_z`` (N,): whole-image z of held-out good images -> the referral threshold."""
    if not 0 < max_false_referral < 1:
        raise ValueError(f"max_false_referral must be in (0, 1), got {max_false_referral}")
    quantile = threshold_at_false_alarm(torch.as_tensor(held_out_global_z), max_false_referral)
    return UnlikeTraining(max(quantile, floor), quantile, floor, max_false_referral, len(held_out_global_z))


def read_unlike_training(run_dir: Path) -> UnlikeTraining | None:
    """The run's threshold from threshold.json; None for runs trained before the check existed."""
    saved = read_json(Path(run_dir) / "threshold.json").get("unlike_training")
    return UnlikeTraining(**saved) if saved else None


def verdict(is_defect: bool, global_z: float, unlike: UnlikeTraining | None) -> str:
    """"good", "defect" or "unlike training images" (which wins: such an image is neither good nor defective)."""
    if unlike is not None and global_z > unlike.threshold:
        return UNLIKE_TRAINING
    return "defect" if is_defect else "good"


def referral_fields(is_defect: bool, global_z: float, unlike: UnlikeTraining | None) -> dict:
    """The prediction row's verdict, refer_to_human (0/1) and refer_reason ("" when decided)."""
    said = verdict(is_defect, global_z, unlike)
    referred = said == UNLIKE_TRAINING
    return {"verdict": said, "refer_to_human": int(referred), "refer_reason": UNLIKE_TRAINING if referred else ""}


def referred_by_type(types: list[str], verdicts: list[str]) -> dict[str, float]:
    """Share of images referred as unlike training, per type ("good" or a defect type)."""
    types_a, referred = np.asarray(types), np.asarray([v == UNLIKE_TRAINING for v in verdicts])
    return {name: float(referred[types_a == name].mean()) for name in sorted(set(types))}
