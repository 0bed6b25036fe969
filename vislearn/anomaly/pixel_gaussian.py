"""Specks of a few pixels: one Gaussian of the good images' raw k x k pixel patches, and each pixel's squared
Mahalanobis distance to it.

A 1-3 px dot on a busy texture (a black fleck in grass, a white one on gravel) barely moves a pretrained backbone's
8-px features: the texture's own shadows and highlights move them as much. What the dot changes is the pixels
themselves: the good images' neighbouring pixels vary together (the texture is smooth at the scale of a pixel or
two), and a dot breaks that. The Gaussian's covariance knows how neighbours vary together; its Mahalanobis
distance is large where they do not. Image AUROC on the sample's specks (128 px, 5 x 5 patches, the map alone,
2 px blur): grass 0.55 (PatchCore's fine scale) -> 0.97; a nearest-neighbour bank of the same patches 0.92, at 100x
the scoring cost; 3 x 3 patches 0.95, 7 x 7 0.78.

Squared, not the distance itself: the map joins the others in units of the good images' peaks, and squaring
stretches the tail where a dark dot in grass lies (its distance 21-32 against good peaks of 15-25): the default
method's image AUROC on grass specks 0.942 -> 0.954, all grass types 0.983 -> 0.985 (same fitted run, rescored).

The distance is one convolution: whitening W = L^T (L the Cholesky factor of the precision) maps a patch x to
W (x - mean), so the conv's weights are W's rows laid out as (3, k, k) and its bias is -W mean.

**Looks** (``vislearn defects add-good``): good images added later in another light are a second mode of the pixel
patches, which one Gaussian cannot hold (joined into it, 20 relit grass images among 76 moved it so little that 55 %
of other relit good images stayed flagged, all by this map). So an added batch of at least :data:`MIN_LOOK_IMAGES`
images gets a Gaussian of its own, a *look*, and a pixel's distance is the smallest over the looks (a patch is as
usual as its closest look; a speck is far from every look). Fewer images, or :data:`MAX_LOOKS` looks already, join
the newest look as before. The looks' whitenings are stacked in one convolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

PATCH_PX = 5  # side of the pixel patch: measured best of 3, 5, 7 on the sample's grass specks (see above)
FIT_STRIDE = 2  # the Gaussian is fitted on the patches centred on a stride-2 grid
# and scored on one: a 5 x 5 patch centred a pixel off a 1-3 px speck still holds it, and the conv costs a quarter
# (at 250 px it cost more than Lite0's forward pass to stride 16). Image AUROC of the map alone on 60 specks per
# texture against 60 good crops (128 px, 96 good images, two draws): 1.000 at stride 1 and 2 on brick, grass, gravel
SCORE_STRIDE = 2
MIN_LOOK_IMAGES = 5  # added good images that get a look of their own (fewer join the newest look)
MAX_LOOKS = 4  # looks at most: the scoring conv grows with each (75 outputs a look at 5 x 5)
RIDGE = 1e-4  # added to the covariance's diagonal, relative to its mean variance: keeps flat images invertible


def _padded(images_bchw: torch.Tensor, patch: int) -> torch.Tensor:
    """Reflect-padded so that every pixel, the rim's too, is the centre of a patch of real pixels."""
    return F.pad(images_bchw.float(), (patch // 2,) * 4, mode="reflect")


class PixelGaussian:
    """``add`` good images batch by batch, then ``finish``; ``distance_map(images (B, 3, H, W)) -> (B, H/2, W/2)``."""

    def __init__(self, patch: int = PATCH_PX):
        self.patch = patch
        self.weight: torch.Tensor | None = None  # (L D, 3, k, k) whitening rows of the L looks, D = 3 k^2
        self.bias: torch.Tensor | None = None  # (L D,)
        self._count, self._sum, self._outer = 0, None, None
        self._images, self._prior = 0, None  # images added; (images, mean, covariance) of a reopened fit

    @property
    def dims(self) -> int:
        """D: the values of one patch (3 channels x k x k), the rows of one look's whitening."""
        return 3 * self.patch**2

    @property
    def looks(self) -> int:
        return 0 if self.weight is None else len(self.weight) // self.dims

    def reopen(self, fitted_images: int) -> None:
        """Before ``add``-ing more good images to a fitted Gaussian. At ``finish`` they become a look of their own (at
        least :data:`MIN_LOOK_IMAGES`, fewer than :data:`MAX_LOOKS` looks), or they join the newest look: its mean and
        covariance, recovered from the whitening (precision = W^T W, mean = -W^-1 bias), weighing as ``fitted_images``
        images."""
        d = self.dims
        whiten = self.weight[-d:].double().flatten(1)  # (D, D)
        mean = -torch.linalg.solve(whiten, self.bias[-d:].double())
        self._prior = (fitted_images, mean, torch.linalg.inv(whiten.T @ whiten))

    def add(self, images_bchw: torch.Tensor) -> None:
        # patches centred on every other pixel in each direction: the same statistics from a quarter of the work
        # and memory (a batch of 16 at 250 px holds 1M patches of 75 values at stride 1: 600 MB in float64)
        patches = F.unfold(_padded(images_bchw, self.patch), self.patch, stride=FIT_STRIDE).double()  # (B, D, H*W/4)
        flat = patches.permute(0, 2, 1).reshape(-1, patches.shape[1])  # (N, D)
        if self._sum is None:
            self._sum, self._outer = flat.new_zeros(flat.shape[1]), flat.new_zeros(flat.shape[1], flat.shape[1])
        self._count += len(flat)
        self._images += len(images_bchw)
        self._sum += flat.sum(dim=0)
        self._outer += flat.T @ flat

    def finish(self, new_images: int | None = None) -> str:
        """Whitening from the sums: (N, D) patches -> mean (D,), covariance (D, D) -> conv weight and bias; after
        :meth:`reopen`, the fitted images join the sums with as many patches each as the added ones (the ridge is
        added once more: 1e-4 of the mean variance). ``new_images``: how many images the added patches came from
        (default: the batches' images; tiles of one image count as one). Returns what was done, for the log."""
        earlier = (self.weight, self.bias) if self._prior is not None else None
        new_look = earlier is not None and (new_images or self._images) >= MIN_LOOK_IMAGES and self.looks < MAX_LOOKS
        if earlier is not None and not new_look:
            images, prior_mean, prior_covariance = self._prior
            patches = self._count / max(new_images or self._images, 1) * images
            self._count += patches
            self._sum += patches * prior_mean
            self._outer += patches * (prior_covariance + torch.outer(prior_mean, prior_mean))
        mean = self._sum / self._count
        covariance = self._outer / self._count - torch.outer(mean, mean)
        covariance += torch.eye(len(mean), dtype=covariance.dtype) * RIDGE * covariance.diagonal().mean().clamp_min(1e-12)
        whiten = torch.linalg.cholesky(torch.linalg.inv(covariance)).T  # (D, D): |whiten (x - mean)| = Mahalanobis
        weight = whiten.float().view(len(mean), 3, self.patch, self.patch).contiguous()
        bias = -(whiten @ mean).float()
        if earlier is not None:  # the earlier looks stay; a merged newest look replaces the one it was recovered from
            kept = slice(None) if new_look else slice(0, len(earlier[0]) - len(mean))
            weight, bias = torch.cat([earlier[0][kept], weight]), torch.cat([earlier[1][kept], bias])
        self.weight, self.bias = weight, bias
        self._count, self._sum, self._outer = 0, None, None
        self._images, self._prior = 0, None
        if earlier is None:
            return "one look"
        if new_look:
            return f"a look of their own (look {self.looks}; a patch is scored against its closest look)"
        why = f"fewer than {MIN_LOOK_IMAGES} images" if self.looks < MAX_LOOKS else f"{MAX_LOOKS} looks already"
        return f"joined into the newest look, each image weighing the same ({why})"

    @torch.no_grad()
    def distance_map(self, images_bchw: torch.Tensor, stride: int = SCORE_STRIDE) -> torch.Tensor:
        """(B, 3, H, W) -> (B, ceil(H / stride), ceil(W / stride)) squared Mahalanobis distance to the good images'
        patches of the patch centred on every ``stride``-th pixel (the closest look's)."""
        whitened = F.conv2d(_padded(images_bchw, self.patch), self.weight, self.bias, stride=stride)
        if len(self.weight) == self.dims:
            return whitened.pow(2).sum(dim=1)
        b, _, h, w = whitened.shape
        return whitened.view(b, -1, self.dims, h, w).pow(2).sum(dim=2).amin(dim=1)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"pixel.weight": self.weight, "pixel.bias": self.bias}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.weight, self.bias = tensors["pixel.weight"].float(), tensors["pixel.bias"].float()
        self.patch = self.weight.shape[-1]
