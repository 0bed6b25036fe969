"""The one training loop, shared by every task. Tasks differ only in ``loss`` and ``new_meter`` (and, rarely, ``forward``)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from tqdm import tqdm

from ..config import TrainConfig
from ..files import Problem
from .checkpoint import load_tensors, optimizer_state, restore_optimizer, save_tensors, write_json
from .device import autocast, memory_format, pick_device, pick_precision

LAST = "last.safetensors"  # full state to resume from, rewritten every epoch
BEST = "model.safetensors"  # weights of the best epoch on validation


class Meter(Protocol):
    def update(self, outputs: torch.Tensor, batch, loss: torch.Tensor) -> None: ...
    def compute(self) -> dict[str, float]: ...


class Task(Protocol):
    """What a task hands the loop. Optionally ``forward(model, images, targets) -> outputs`` when the
    model needs the targets (e.g. torchvision detectors compute their losses inside ``forward``)."""

    score_name: str  # key of Meter.compute() that early stopping maximises

    def loss(self, outputs, targets) -> torch.Tensor: ...
    def new_meter(self) -> Meter: ...


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], value):
    """``fn`` applied to every tensor in ``value``: a tensor, or dicts, lists, tuples and NamedTuples of them."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_tensors(fn, v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple: fields are positional arguments
        return type(value)(*(map_tensors(fn, v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(map_tensors(fn, v) for v in value)
    return value


def to_device(targets, device: torch.device):
    """Targets of any shape a task uses: a tensor, or lists/dicts of tensors (boxes per image)."""
    return map_tensors(lambda t: t.to(device, non_blocking=True), targets)


def detached(outputs):
    """Outputs (tensor, or lists/dicts of tensors) detached, floating ones in float32, for the meters."""
    return map_tensors(lambda t: t.detach().float() if t.is_floating_point() else t.detach(), outputs)


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_score: float
    stopped_early: bool
    skipped: list[Problem] = field(default_factory=list)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up to 1, then cosine down to 1 % at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def seed_epoch(loader, seed: int, epoch: int) -> None:
    """Shuffling, augmentation and dropout depend only on (seed, epoch): resume replays them exactly."""
    torch.manual_seed(seed * 100_003 + epoch)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(seed * 100_003 + epoch)


def loss_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """fp16 gradients below ~6e-8 flush to zero; scaling the loss keeps them. bf16 and fp32 need no scaler."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def run_epoch(model, task, loader, device, precision, fmt, optimizer=None, scheduler=None, grad_clip=None, desc="", progress=True,
              scaler: torch.amp.GradScaler | None = None):
    """One pass over ``loader``; trains when an optimizer is given. Returns (metrics, failed files)."""
    training = optimizer is not None
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    model.train(training)
    meter, failed, seen, start = task.new_meter(), [], 0, time.perf_counter()
    with torch.set_grad_enabled(training):
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch", dynamic_ncols=True):
            failed.extend(batch.failed)
            if len(batch) == 0:
                continue
            images = batch.images.to(device, non_blocking=True, memory_format=fmt)
            targets = to_device(batch.labels, device)
            with autocast(device, precision):
                outputs = task.forward(model, images, targets) if hasattr(task, "forward") else model(images)
                loss = task.loss(outputs, targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if grad_clip:
                    scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                scaler.step(optimizer)  # skipped when the scaled gradients overflowed
                scaler.update()
                scheduler.step()
            meter.update(detached(outputs), targets, loss.detach().float())
            seen += len(batch)
    metrics = meter.compute()
    metrics["images_per_second"] = seen / max(time.perf_counter() - start, 1e-9)
    return metrics, failed


def _save_last(path: Path, model, optimizer, scheduler, scaler, state: dict) -> None:
    opt_tensors, opt_meta = optimizer_state(optimizer)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()} | opt_tensors
    save_tensors(path, tensors, {**state, "optimizer": opt_meta, "scheduler": scheduler.state_dict(),
                                 "grad_scaler": scaler.state_dict() if scaler else {}})


def _load_last(path: Path, model, optimizer, scheduler, scaler) -> dict:
    tensors, meta = load_tensors(path)
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    restore_optimizer(optimizer, tensors, meta.pop("optimizer"))
    scheduler.load_state_dict(meta.pop("scheduler"))
    scaler_state = meta.pop("grad_scaler", {})
    if scaler and scaler_state:
        scaler.load_state_dict(scaler_state)
    return meta


def fit(model: nn.Module, task: Task, train_loader, val_loader, config: TrainConfig, run_dir: str | Path,
        resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> FitResult:
    """Train with AdamW + warm-up/cosine LR, checkpoint every epoch, early-stop on ``task.score_name``."""
    run_dir = Path(run_dir)
    device = pick_device(config.device)
    precision = pick_precision(device, config.precision)
    fmt = memory_format(device, config.channels_last)
    model.to(device, memory_format=fmt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, len(train_loader))
    warmup = int(config.warmup_epochs * len(train_loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps, max(1, warmup)))
    scaler = loss_scaler(device, precision)
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0, "history": [], "skipped": []}
    if resume and (run_dir / LAST).exists():
        state = _load_last(run_dir / LAST, model, optimizer, scheduler, scaler)
        log(f"resumed from {run_dir / LAST} after epoch {state['epoch']}")
    skipped = {p["path"]: p["reason"] for p in state["skipped"]}
    stopped_early = False
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        if state["bad_epochs"] >= config.patience:
            stopped_early = True
            break
        seed_epoch(train_loader, config.seed, epoch)
        started = time.perf_counter()
        train_m, failed = run_epoch(model, task, train_loader, device, precision, fmt, optimizer, scheduler,
                                    config.grad_clip, desc=f"epoch {epoch}/{config.epochs}", progress=progress, scaler=scaler)
        val_m, val_failed = run_epoch(model, task, val_loader, device, precision, fmt, desc="validate", progress=progress)
        for p in failed + val_failed:
            skipped[p.path] = p.reason
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_m.items() if k != "images_per_second"},
               **{f"val_{k}": v for k, v in val_m.items() if k != "images_per_second"},
               "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started,
               "images_per_second": train_m["images_per_second"]}
        state["history"].append(row)
        score, loss = val_m[task.score_name], val_m.get("loss", math.inf)
        # a tie on the score (a small validation set at 100 %) goes to the lower validation loss: the later,
        # surer epoch rather than the first one that happened to reach the top
        improved = score > state["best_score"] or (score == state["best_score"] and loss < state.get("best_loss", math.inf))
        if improved:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0, best_loss=loss)
            save_tensors(run_dir / BEST, model.state_dict(), {"epoch": epoch, "score": score})
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["skipped"] = [{"path": k, "reason": v} for k, v in skipped.items()]
        _save_last(run_dir / LAST, model, optimizer, scheduler, scaler, state)
        write_json(run_dir / "history.json", state["history"])
        log(_epoch_line(row, task.score_name, improved, len(failed) + len(val_failed)))
    else:
        stopped_early = state["bad_epochs"] >= config.patience and state["epoch"] < config.epochs
    return FitResult(state["history"], state["best_epoch"], state["best_score"], stopped_early,
                     [Problem(**p) for p in state["skipped"]])


def _epoch_line(row: dict, score_name: str, improved: bool, n_failed: int) -> str:
    line = (f"epoch {row['epoch']:>3}  loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
            f"val_{score_name} {row[f'val_{score_name}']:.4f}  {row['images_per_second']:.0f} img/s  {row['seconds']:.1f}s")
    if improved:
        line += "  *best"
    if n_failed:
        line += f"  ({n_failed} unreadable files skipped)"
    return line
