"""Device and numeric precision: the one place that decides where and how tensors run."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def pick_precision(device: torch.device, name: str = "auto") -> str:
    """"fp32", "bf16" or "fp16". Auto: bf16 on GPUs that have it, fp16 on older GPUs, fp32 on CPU."""
    if name != "auto":
        return name
    if device.type == "cuda":
        # without including_emulation=False, older GPUs (T4, V100) answer yes and run bf16 emulated, slowly
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    return "fp32"


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def default_workers() -> int:
    """Loader processes: leave one core for the model, at most 8; under torchrun, of this process's share of the cores."""
    share = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(0, min(8, share - 1))


def memory_format(device: torch.device, channels_last: bool | None) -> torch.memory_format:
    """None = auto: channels_last on GPUs (tensor cores want it); on CPU it slows depthwise convs down."""
    use = channels_last if channels_last is not None else device.type == "cuda"
    return torch.channels_last if use else torch.contiguous_format


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread inside the block, then as many as before (also when the block raises). Many small ops
    (tiny models, 24-48 px thumbnails, 3x3 solves) gain nothing from a second thread, and on a shared 2-core machine
    threads spinning against each other made them cost 3.5x the CPU and run slower (docs/organize.md, "Scale")."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
