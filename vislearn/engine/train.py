"""The one training loop, shared by every task. Tasks differ only in ``loss`` and ``new_meter`` (and, rarely, ``forward``)."""
from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from ..config import TrainConfig
from ..errors import DistributedSetupError
from ..files import Problem
from . import distributed
from .checkpoint import load_tensors, optimizer_state, restore_optimizer, save_tensors, write_json
from .device import autocast, pick_device, pick_precision
from .recipe import choose_memory_format, describe, make_optimizer, make_schedule, warmup_cosine  # noqa: F401 (warmup_cosine: its old home)

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
    recipe: dict = field(default_factory=dict)  # recipe.describe(): optimizer, schedule, memory format and why


def seed_epoch(loader, seed: int, epoch: int, rank: int = 0) -> None:
    """Shuffling, augmentation and dropout depend only on (seed, epoch, rank): resume replays them exactly.
    Each process of a multi-process run draws its own augmentation and dropout (``rank``), all share one permutation."""
    torch.manual_seed(seed * 100_003 + epoch + 1_000_003 * rank)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(seed * 100_003 + epoch)
    if isinstance(getattr(loader, "sampler", None), DistributedSampler):
        loader.sampler.set_epoch(epoch)  # one permutation for all processes, drawn from (seed, epoch): see data_loader


def loss_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """fp16 gradients below ~6e-8 flush to zero; scaling the loss keeps them. bf16 and fp32 need no scaler."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def run_epoch(model, task, loader, device, precision, fmt, optimizer=None, scheduler=None, grad_clip=None, desc="", progress=True,
              scaler: torch.amp.GradScaler | None = None, accumulate: int = 1):
    """One pass over ``loader``; trains when an optimizer is given, one optimizer step per ``accumulate`` batches.
    Returns (metrics, failed files)."""
    training = optimizer is not None
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    model.train(training)
    meter, failed, seen, start = task.new_meter(), [], 0, time.perf_counter()
    with torch.set_grad_enabled(training):
        for index, batch in enumerate(tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch", dynamic_ncols=True)):
            failed.extend(batch.failed)
            if len(batch) == 0:
                continue
            images = batch.images.to(device, non_blocking=True, memory_format=fmt)
            targets = to_device(batch.labels, device)
            with autocast(device, precision):
                outputs = task.forward(model, images, targets) if hasattr(task, "forward") else model(images)
                loss = task.loss(outputs, targets)
            if training:
                _train_step(model, loss, index, len(loader), accumulate, optimizer, scheduler, scaler, grad_clip)
            meter.update(detached(outputs), targets, loss.detach().float())
            seen += len(batch)
    metrics = meter.compute()
    metrics["images_per_second"] = seen / max(time.perf_counter() - start, 1e-9)
    return metrics, failed


def _train_step(model, loss, index: int, n_batches: int, accumulate: int, optimizer, scheduler, scaler, grad_clip) -> None:
    """Backward of batch ``index``; the optimizer steps on the last batch of each group of ``accumulate`` (the
    epoch's last group may be shorter), on the mean of the group's gradients, so K batches of B step as one of K x B.
    Under DDP the processes average gradients only at that last backward (``no_sync`` before it)."""
    group_start = index - index % accumulate
    group = min(accumulate, n_batches - group_start)
    last = index - group_start == group - 1
    if index == group_start:
        optimizer.zero_grad(set_to_none=True)
    with contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync():
        scaler.scale(loss if group == 1 else loss / group).backward()
    if not last:
        return
    if grad_clip:
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)  # skipped when the scaled gradients overflowed
    scaler.update()
    scheduler.step()


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
    """Train with the config's optimizer and per-step LR schedule (:mod:`.recipe`; AdamW + warm-up/cosine unless
    told), checkpoint every epoch, early-stop on ``task.score_name``. The recipe actually used (weight decay and memory
    layout resolved) is logged and returned in ``FitResult.recipe``.

    Under torchrun (docs/distributed.md) every process trains ``model`` in DistributedDataParallel and validates
    it on its share of the loaders (made by ``data_loader`` after ``distributed.start``); all take the same merged
    figures, so all stop early alike; rank 0 alone writes the files, logs and shows progress. Every process reads
    last.safetensors on resume.
    """
    run_dir = Path(run_dir)
    world = distributed.start(pick_device(config.device))
    device = distributed.process_device(pick_device(config.device), world)
    if not world.is_main:
        log, progress = _quiet, False
    precision = pick_precision(device, config.precision)
    fmt, why = choose_memory_format(device, config.channels_last, model)
    model.to(device, memory_format=fmt)
    if world.size > 1 and not isinstance(getattr(train_loader, "sampler", None), DistributedSampler):
        raise DistributedSetupError("several processes but one training loader for all: make it with data_loader after "
                                    "engine.distributed.start(), which splits it over the processes")
    trained = distributed.wrap_model(model, device, config.sync_bn, log)  # ``model`` itself in one process
    accumulate = steps_to_accumulate(config, train_loader, world.size, log)
    optimizer = make_optimizer(model, config)
    scheduler = make_schedule(optimizer, config, -(-len(train_loader) // accumulate))
    recipe = describe(config, fmt, why)
    log(_recipe_line(recipe))
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
        seed_epoch(train_loader, config.seed, epoch, world.rank)
        started = time.perf_counter()
        train_m, failed = run_epoch(trained, task, train_loader, device, precision, fmt, optimizer, scheduler, config.grad_clip,
                                    desc=f"epoch {epoch}/{config.epochs}", progress=progress, scaler=scaler, accumulate=accumulate)
        val_m, val_failed = run_epoch(model, task, val_loader, device, precision, fmt, desc="validate", progress=progress)
        train_m, val_m, failed = _over_processes(train_m, val_m, failed + val_failed)
        for p in failed:
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
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["skipped"] = [{"path": k, "reason": v} for k, v in skipped.items()]
        if world.is_main:
            _save_epoch(run_dir, model, optimizer, scheduler, scaler, state, improved)
        log(_epoch_line(row, task.score_name, improved, len(failed)))
    else:
        stopped_early = state["bad_epochs"] >= config.patience and state["epoch"] < config.epochs
    return FitResult(state["history"], state["best_epoch"], state["best_score"], stopped_early,
                     [Problem(**p) for p in state["skipped"]], recipe)


def _quiet(_line: str) -> None:
    pass


def _save_epoch(run_dir: Path, model, optimizer, scheduler, scaler, state: dict, improved: bool) -> None:
    """The epoch's files: the best weights when it improved, the state to resume from, the history."""
    if improved:
        save_tensors(run_dir / BEST, model.state_dict(), {"epoch": state["epoch"], "score": state["best_score"]})
    _save_last(run_dir / LAST, model, optimizer, scheduler, scaler, state)
    write_json(run_dir / "history.json", state["history"])


def _over_processes(train_m: dict, val_m: dict, failed: list) -> tuple[dict, dict, list]:
    """An epoch that several processes trained and validated, each on its share, as every process's same figures
    (so all decide early stopping alike): images/s summed; the rest averaged over the processes, which leaves
    torchmetrics' figures as they are (they gather every process's share when computed) and makes a
    meter's own means (the loss) the mean over all the images. Unreadable files of all. Unchanged in one process."""
    if not distributed.active():
        return train_m, val_m, failed
    parts = distributed.gathered((train_m, val_m, failed))

    def merged(i: int) -> dict:
        return {k: (sum if k == "images_per_second" else statistics.fmean)([part[i][k] for part in parts]) for k in parts[0][i]}

    return merged(0), merged(1), [p for part in parts for p in part[2]]


def steps_to_accumulate(config: TrainConfig, train_loader, world_size: int, log: Callable[[str], None]) -> int:
    """Batches whose gradients make one optimizer step: ``config.accumulate``, or ``config.global_batch`` divided by
    (batch size x processes). Logs what was decided whenever it is not one plain process."""
    per_step = config.batch_size * world_size
    accumulate = config.accumulate
    if config.global_batch:
        if config.global_batch % per_step:
            raise DistributedSetupError(
                f"--global-batch {config.global_batch} is not a multiple of --batch-size {config.batch_size} x {world_size} "
                f"process(es) = {per_step}: use e.g. {per_step * max(1, round(config.global_batch / per_step))}")
        accumulate = config.global_batch // per_step
        if config.accumulate not in (1, accumulate):
            raise DistributedSetupError(f"--accumulate {config.accumulate} and --global-batch {config.global_batch} disagree "
                                        f"({accumulate} steps): give one of them")
    if accumulate < 1:
        raise DistributedSetupError(f"--accumulate {accumulate}: at least 1 batch per optimizer step")
    if world_size > 1 or accumulate > 1:
        log(f"global batch {per_step * accumulate} = batch {config.batch_size} x {world_size} process{'es' * (world_size > 1)}"
            f" x {accumulate} accumulated step{'s' * (accumulate > 1)}; {-(-len(train_loader) // accumulate)} optimizer steps per epoch")
    return accumulate


def _recipe_line(recipe: dict) -> str:
    return (f"recipe: {recipe['optimizer']}, lr {recipe['lr']:g}, weight decay {recipe['weight_decay']:g}, {recipe['schedule']} "
            f"schedule ({recipe['warmup_epochs']:g} warm-up epochs), {recipe['memory_format']} ({recipe['memory_format_why']})")


def _epoch_line(row: dict, score_name: str, improved: bool, n_failed: int) -> str:
    line = (f"epoch {row['epoch']:>3}  loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
            f"val_{score_name} {row[f'val_{score_name}']:.4f}  {row['images_per_second']:.0f} img/s  {row['seconds']:.1f}s")
    if improved:
        line += "  *best"
    if n_failed:
        line += f"  ({n_failed} unreadable files skipped)"
    return line
