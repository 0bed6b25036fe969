"""Many processes, one training: who this process is under torchrun, its process group, and rank-0-only work.

torchrun (``python -m torch.distributed.run``) starts the processes and sets RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR/PORT; nothing here starts processes by hand except :func:`launch`, which hands
the same command line to torchrun. Multi-node runs use torchrun's own rendezvous flags (docs/distributed.md).
With WORLD_SIZE unset or 1 nothing here creates a process group, and the training loop stays single-process.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import DistributedSetupError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: global ``rank`` of ``size``, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_from_env(env=os.environ) -> World:
    """The World torchrun described in the environment (one process when it did not)."""
    size = int(env.get("WORLD_SIZE", 1))
    return World(int(env.get("RANK", 0)), size, int(env.get("LOCAL_RANK", 0)), int(env.get("LOCAL_WORLD_SIZE", size)))


def is_main() -> bool:
    """True in the one process that writes files, logs and shows progress (rank 0; the only one when not under torchrun)."""
    return world_from_env().is_main


def restarted() -> bool:
    """True when torchrun restarted the workers after one failed (``--max-restarts``): the run continues from last.safetensors."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)) > 0


def process_device(device: torch.device, world: World) -> torch.device:
    """``cuda`` means this process's own GPU, ``cuda:LOCAL_RANK``, when several processes share a node."""
    if world.size > 1 and device.type == "cuda" and device.index is None:
        return torch.device("cuda", world.local_rank)
    return device


def start(device: torch.device, timeout_minutes: float = 30) -> World:
    """Join torchrun's process group once (nccl on CUDA, gloo otherwise); does nothing in a single process."""
    world = world_from_env()
    if world.size > 1 and not dist.is_initialized():
        device = process_device(device, world)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes), device_id=device if device.type == "cuda" else None)
    return world


def active() -> bool:
    """True when this process trains together with others (a process group of more than one)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gathered(obj) -> list:
    """Every process's ``obj`` (picklable), in rank order; ``[obj]`` in a single process."""
    if not active():
        return [obj]
    objects = [None] * dist.get_world_size()
    dist.all_gather_object(objects, obj)
    return objects


def from_main(obj):
    """Rank 0's ``obj`` in every process (picklable; sent by torch, never read from a file)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_model(model: nn.Module, device: torch.device, sync_bn: bool, log: Callable[[str], None]) -> nn.Module:
    """``model`` in DistributedDataParallel (gradients averaged over the processes at every backward), with its
    BatchNorm layers made SyncBatchNorm (statistics over the global batch; CUDA only) when ``sync_bn``.
    ``model`` itself is returned unchanged in a single process: no DDP object is made."""
    if not active():
        if sync_bn:
            log("--sync-bn ignored: one process, its BatchNorm already sees the whole batch")
        return model
    if sync_bn:
        if device.type != "cuda":
            raise DistributedSetupError("--sync-bn needs CUDA devices (torch's SyncBatchNorm has no CPU kernel); "
                                        "leave it out on CPU: each process then normalises over its own share of the batch")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def cleanup() -> None:
    """Leave the process group (at the end of a run; a no-op when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def torchrun_command(nproc: int, target: Sequence[str], rendezvous: Sequence[str] = ("--standalone",)) -> list[str]:
    """The command that runs ``target`` (``["-m", "vislearn", ...]`` or a script and its arguments) in ``nproc``
    processes on this node under torchrun; ``rendezvous``: ``--standalone`` or torchrun's --nnodes/--rdzv-* flags."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), *rendezvous, *target]


def launch(argv: Sequence[str], nproc: int, log: Callable[[str], None]) -> int:
    """Run ``vislearn ARGV`` (without its --nproc) in ``nproc`` processes under torchrun; returns torchrun's exit code."""
    command = torchrun_command(nproc, ["-m", "vislearn", *argv])
    log(f"{nproc} processes under torchrun: {' '.join(command)}")
    return subprocess.call(command)
