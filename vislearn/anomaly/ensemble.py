"""PatchCore and random-teacher distillation together: pretrained patch memory plus a model learned on your images.

The two see different defects. Pretrained patch features (PatchCore) find stains and holes, and their pooled
features drive the whole-image score; they barely move on a thin dark crack across a busy texture, because such
a line looks like the shadows between grass blades or the gaps between stones. A student trained to follow a
random teacher on the good images fails exactly there. Each map is put in units of its own spread on held-out
good images and the two are averaged pixel by pixel: a real defect is high in one map and raised in the other,
while the chance peaks of good images fall at different places in each. Image AUROC on the sample textures
(128 px, 96 good images): grass 0.900 PatchCore / 0.952 distill alone -> 0.992 together; gravel 0.924 / 0.949
-> 1.000; brick 0.999 / 0.996 -> 0.999.

Specks of a few pixels are seen by PatchCore's fine scale alone (the stride-8 stage unpooled); averaged with the
two maps above they lost two thirds of their height and stayed at chance (a 3 px fleck on brick: 0.51). So the
fine map joins as a pixel-wise maximum, the pair's mean and the fine map each in units of their good images'
peaks (so neither wins every pixel by a longer tail). Image AUROC, the pair alone -> with the fine map (same fitted
runs; the new rule also blurs 2 px instead of 4): the fleck 0.53 -> 0.98; 6-10 px specks on a 120-image draw of the
textile set 0.80 -> 1.00; the sample's grass cracks 0.975 -> 0.967, stains 0.93 -> 1.00.
"""
from __future__ import annotations

from typing import Callable

import torch

from .distill import RandomDistill, StudentLessons
from .features import Description
from .front import Front
from .patchcore import PatchCore
from .scales import MapScale, combine_maps, fit_peak_scales, fit_scales, map_scale, strongest  # noqa: F401  (map_scale: API)


class PatchCoreDistill:
    """``describe``'s local map: the student's map and PatchCore's coarse map averaged in units of their pixels'
    spread on held-out good images (the pair that finds cracks), then the pixel-wise stronger of that and PatchCore's
    fine map (specks), each in units of its good images' peaks. Pooled features: PatchCore's coarse scale.

    ``leave_out`` reaches PatchCore only: the student has seen its training images, so on them its error is
    lower than on new ones and the training-outlier check relies more on the memory part.
    """

    needs_pretrained = True

    def __init__(self, backbone, max_memory_mb: float = 256, seed: int = 0, **_):
        self.patchcore = PatchCore(backbone, max_memory_mb=max_memory_mb, seed=seed)
        self.distill = RandomDistill(seed=seed)
        self.scales: list[MapScale] = []  # pixel spread of PatchCore's coarse map and the student's
        self.peaks: list[MapScale] = []  # peaks of the pair's mean and of PatchCore's fine map
        self.front: Front | None = None  # backbone, pixel Gaussian and student in one pass, built once all are fitted

    def fit(self, batches, log: Callable[[str], None] = print, val_loader=None, **context) -> None:
        self.patchcore.fit(batches, log)
        self.distill.fit(None, log, val_loader=val_loader, **context)
        log(self._fit_units(val_loader))
        log(self.front.decision)

    def _fit_units(self, val_loader, student_only: bool = False) -> str:
        """The maps' units (``scales``, ``peaks``) from the held-out good images; with ``student_only`` the student's
        spread and the pair's peaks alone (PatchCore's own units stay as fitted). Returns the log line."""
        self.front = None
        # maps are small (a grid per image); the images stream batch by batch
        held = [self._raw_maps(batch.images) for batch in val_loader if len(batch)]
        scales = fit_scales([coarse, learned] for coarse, _, _, learned in held)
        self.scales = [self.scales[0], scales[1]] if student_only else scales
        peaks = fit_peak_scales(self._pair_and_fine(maps) for maps in held)
        self.peaks = [peaks[0], *self.peaks[1:]] if student_only else peaks
        refitted = "student and pair fitted again: " if student_only else ""
        return ("patchcore+distill: " + refitted + "pixel spread on held-out good images: patchcore coarse {0[0]:.3g} ± {0[1]:.3g}, "
                "student {1[0]:.3g} ± {1[1]:.3g}; peaks: their mean {2[0]:.3g} ± {2[1]:.3g}, patchcore fine (specks) "
                "{3[0]:.3g} ± {3[1]:.3g}, pixel (1-3 px specks) {4[0]:.3g} ± {4[1]:.3g}".format(*self.scales, *self.peaks))

    def add_good(self, batches, fitted_images: int) -> list[str]:
        """PatchCore's memory and pixel Gaussian take the images (:meth:`PatchCore.add_good`); the student and the
        maps' units stay until :meth:`teach_student`. Returns the log lines."""
        self.front = None
        return self.patchcore.add_good(batches, fitted_images)

    def teach_student(self, lessons: StudentLessons) -> list[str]:
        """The student fine-tuned (:meth:`RandomDistill.teach_student`), then the units its map changes fitted again on
        the held-out good images as :meth:`fit` sets them: its pixel spread and the pair's peaks. PatchCore's units stay
        as fitted, as :meth:`PatchCore.add_good` keeps them: fitted again against the grown memory and the joined
        pixel Gaussian they shrank, and the textile set's other new-look good images flagged went 25 % -> 30 %
        (without the pixel map 32.5 % -> 7.5 %). Returns the log lines."""
        lines = self.distill.teach_student(lessons)
        return lines + [self._fit_units(lessons.val_loader, student_only=True)]

    def _convs(self, images_bchw: torch.Tensor) -> list[torch.Tensor]:
        """[*PatchCore's convs (stage maps, pixel map), student error (B, H/4, W/4)]: one pass over the pixels."""
        if self.front is None:
            self.front = Front(self.patchcore.conv_front((self.distill.local_map,), (self.distill.model,)))
        return self.front(images_bchw)

    def _raw_maps(self, images_bchw, leave_out=None) -> list[torch.Tensor]:
        """[PatchCore coarse (B, H/8, W/8), fine (B, H/8, W/8), pixel (B, H/2, W/2), student (B, H/4, W/4)], raw."""
        *convs, learned = self._convs(images_bchw)
        return [*self.patchcore.maps_from_convs(convs, leave_out)[0], learned]

    def _pair_and_fine(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """[the pair's mean, fine, pixel]: the maps the pixel-wise maximum is taken over."""
        coarse, fine, pixel, learned = maps
        return [combine_maps([coarse, learned], self.scales), fine, pixel]

    def describe(self, images_bchw: torch.Tensor, leave_out: torch.Tensor | None = None) -> Description:
        *convs, learned = self._convs(images_bchw)
        memory, patchcore_maps = self.patchcore.describe_with_maps(images_bchw, leave_out, convs)
        maps = [*patchcore_maps, learned]
        return Description(strongest(self._pair_and_fine(maps), self.peaks), memory.pooled_bd)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**self.patchcore.tensors(), **self.distill.tensors(), "ensemble.scales": torch.tensor([list(s) for s in self.scales]),
                "ensemble.peaks": torch.tensor([list(s) for s in self.peaks])}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.patchcore.load(tensors)
        self.distill.load(tensors)
        self.scales = [MapScale(*map(float, row)) for row in tensors["ensemble.scales"]]
        self.peaks = [MapScale(*map(float, row)) for row in tensors["ensemble.peaks"]]
        self.front = None
