"""The ``openclip:<arch>`` embedder: image and text in one space (zero-shot names, text search).

Weights come from a local file (``--weights``) or the hub when online; no CLIP weights ship offline, so
without either a :class:`WeightsUnavailableError` says what to do. Files are loaded with ``weights_only``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UnknownNameError, VislearnError, WeightsUnavailableError
from ..models.weights import hub_reachable
from .embedder import Embedder


class ImageTower(nn.Module):
    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.encode_image(images).float(), dim=1)


def _open_clip():
    try:
        import open_clip
    except ImportError:
        raise VislearnError("the openclip embedder needs open-clip-torch: pip install 'vislearn[clip]'") from None
    return open_clip


def _pretrained(arch: str, weights: str | None) -> str:
    open_clip = _open_clip()

    if weights:
        if not Path(weights).is_file():
            raise WeightsUnavailableError(f"{weights}: CLIP weights file not found")
        return str(weights)
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if not tags or not hub_reachable():
        raise WeightsUnavailableError(
            f"no weights for openclip:{arch}: none ship with vislearn and the hub "
            f"{'has none for this architecture' if not tags else 'cannot be reached'}. Download a checkpoint "
            f"(e.g. open_clip's {arch} '{tags[0] if tags else 'laion2b'}') on a machine online and pass --weights FILE, "
            f"or use the offline embedders: --embedder lite0 (ImageNet) or --embedder self-supervised")
    return tags[0]


def openclip_embedder(arch: str = "ViT-B-32", weights: str | None = None, random_init: bool = False, **_) -> Embedder:
    """``random_init`` builds the architecture without weights (tests of the code path only: its vectors mean nothing)."""
    open_clip = _open_clip()

    if arch not in open_clip.list_models():
        raise UnknownNameError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models() (e.g. ViT-B-32, RN50)")
    pretrained = None if random_init else _pretrained(arch, weights)
    try:
        clip, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained, weights_only=True)
    except RuntimeError as exc:
        raise WeightsUnavailableError(f"{pretrained}: could not load into openclip:{arch} ({str(exc)[:200]})") from None
    clip.eval()
    tokenizer = open_clip.get_tokenizer(arch)
    size = clip.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    normalize = next(t for t in preprocess.transforms if type(t).__name__ == "Normalize")
    source = "random" if random_init else (hashlib.sha256(f"{pretrained}:{Path(pretrained).stat().st_size if Path(pretrained).is_file() else ''}"
                                                          .encode()).hexdigest()[:12])
    with torch.inference_mode():
        dim = clip.encode_text(tokenizer(["a"])).shape[1]

    @torch.inference_mode()
    def embed_text(texts: list[str]) -> torch.Tensor:
        return F.normalize(clip.encode_text(tokenizer(texts)).float(), dim=1)

    return Embedder(f"openclip:{arch}", f"openclip-{arch}-{source}", ImageTower(clip).eval(), dim, size,
                    tuple(normalize.mean), tuple(normalize.std), embed_text=embed_text, onnx_ok=False)
