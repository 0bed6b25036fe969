"""The training recipe's parts, each chosen by name: the optimizer and the learning-rate schedule (``--optimizer``,
``--schedule``), and the weights' memory layout (``--memory-format``). ``fit`` builds them from the run's config and
logs what it chose and why."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..config import TrainConfig
from ..registry import Registry


@dataclass(frozen=True)
class OptimizerChoice:
    """How to build one optimizer, and the weight decay it gets when ``--weight-decay`` is not given."""

    build: Callable[[Iterable[nn.Parameter], float, float], torch.optim.Optimizer]  # (params, lr, weight_decay)
    default_weight_decay: float
    describe: str


OPTIMIZERS: Registry[OptimizerChoice] = Registry("optimizer")
SCHEDULES: Registry[Callable[[torch.optim.Optimizer, int, int], torch.optim.lr_scheduler.LRScheduler]] = Registry("schedule")

# AdamW decays the weights apart from the gradient (0.05 x lr per step); SGD adds the decay to the gradient, where
# 0.05 would swamp it: 5e-4 is the usual value for small conv nets
OPTIMIZERS.register("adamw")(OptimizerChoice(
    lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd), 0.05, "AdamW"))
OPTIMIZERS.register("sgd")(OptimizerChoice(
    lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd), 5e-4,
    "SGD with Nesterov momentum 0.9"))


def weight_decay_for(optimizer: str, weight_decay: float | None) -> float:
    """The given weight decay, or the optimizer's own default when None."""
    return OPTIMIZERS.get(optimizer).default_weight_decay if weight_decay is None else weight_decay


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    choice = OPTIMIZERS.get(config.optimizer)
    return choice.build(model.parameters(), config.lr, weight_decay_for(config.optimizer, config.weight_decay))


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up to 1, then cosine down to 1 % at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@SCHEDULES.register("cosine")
def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    """Per step: linear warm-up to ``--lr``, then a cosine down to 1 % of it (:func:`warmup_cosine`)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total_steps, max(1, warmup_steps)))


@SCHEDULES.register("onecycle")
def one_cycle_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    """Per step, torch's one-cycle: from ``--lr``/25 up to ``--lr`` over the warm-up (a cosine), then down to
    ``--lr``/25e4; momentum (SGD) or Adam's beta1 moves the other way, 0.95 -> 0.85 -> 0.95."""
    # torch counts the phases' ends from step 0: one step more than trained makes the last step's LR the floor, and
    # at least 2 steps of warm-up and 3 in all keep its phases apart (it divides by their lengths)
    total = max(3, total_steps + 1)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total,
                                               pct_start=min(0.5, max(2, warmup_steps) / total))


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """The config's schedule over ``config.epochs`` epochs of ``steps_per_epoch`` optimizer steps."""
    steps_per_epoch = max(1, steps_per_epoch)
    return SCHEDULES.get(config.schedule)(optimizer, config.epochs * steps_per_epoch, int(config.warmup_epochs * steps_per_epoch))


def has_convolutions(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def choose_memory_format(device: torch.device, channels_last: bool | None, model: nn.Module) -> tuple[torch.memory_format, str]:
    """(layout of the weights and batches, why). ``channels_last`` True/False is the user's; None (auto): channels_last
    for convolutional models on CUDA (tensor cores want it), contiguous elsewhere. On CPU, channels_last ran a 5-conv
    net's training step 1.2-1.3x faster at 28 px (2 threads) and Lite0's 1.45x at 250 px, but not every model's ops
    take it (a ``view`` across channels fails), so it is the user's choice there: ``--memory-format channels_last``."""
    if channels_last is not None:
        return (torch.channels_last if channels_last else torch.contiguous_format), "--memory-format"
    if not has_convolutions(model):
        return torch.contiguous_format, "auto: no 2D convolutions"
    if device.type == "cuda":
        return torch.channels_last, "auto: a convolutional model on CUDA, where channels_last runs faster"
    return torch.contiguous_format, (f"auto: contiguous on {device.type} (--memory-format channels_last: 1.2-1.3x faster "
                                     "steps measured for small conv nets on CPU)")


def describe(config: TrainConfig, fmt: torch.memory_format, why: str) -> dict:
    """What the run trains with, for the log and the run's files."""
    return {"optimizer": OPTIMIZERS.get(config.optimizer).describe, "lr": config.lr,
            "weight_decay": weight_decay_for(config.optimizer, config.weight_decay), "schedule": config.schedule,
            "warmup_epochs": config.warmup_epochs,
            "memory_format": "channels_last" if fmt == torch.channels_last else "contiguous", "memory_format_why": why}
