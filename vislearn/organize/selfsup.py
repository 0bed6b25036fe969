"""The ``self-supervised`` embedder: a small CNN learnt on the collection itself, for users with no pretrained weights.

SimCLR-style: two random views of each photo (crop, flip, colour) should be each other's nearest neighbour
among all views of the batch (NT-Xent loss). Trained by the shared engine (:func:`vislearn.engine.fit`)
with the task object below; the embedding is the CNN's pooled features, L2-normalised.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from ..config import TrainConfig
from ..data.dataset import Batch, FileDataset, split_problems
from ..data.images import read_image
from ..engine.checkpoint import load_tensors
from ..engine.device import default_workers
from ..engine.train import BEST, fit
from ..errors import WeightsUnavailableError
from ..models.tiny import TinyCNN
from .embedder import Embedder
from .records import sha256_hex

IMAGE_SIZE = 64
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
PROJECTION_DIM = 64
WIDTH = 16
FOLDER = Path("embedders") / "self-supervised"


def augment(size: int = IMAGE_SIZE) -> T.Compose:
    return T.Compose([T.RandomResizedCrop(size, scale=(0.3, 1.0), antialias=True), T.RandomHorizontalFlip(),
                      T.ColorJitter(0.4, 0.4, 0.3, 0.05), T.RandomGrayscale(0.2), T.ToImage(),
                      T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])


def _load_two_views(transform, path: str) -> tuple:
    image = read_image(path)
    image.thumbnail((IMAGE_SIZE * 3, IMAGE_SIZE * 3))  # decode once, augment small
    return transform(image), transform(image)


def two_views(paths: list[str], size: int = IMAGE_SIZE) -> FileDataset:
    """(view_a, view_b, index) per photo, or a Problem for unreadable files."""
    return FileDataset(paths, partial(_load_two_views, augment(size)))


def collate_views(items: list) -> Batch:
    """images (2B, 3, H, W): all first views, then all second views; labels (2B,): the photo each view shows."""
    good, failed = split_problems(items)
    if not good:
        return Batch(torch.empty(0, 3, 1, 1), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), failed)
    a, b, idx = zip(*good)
    indices = torch.tensor(idx)
    return Batch(torch.stack(a + b), torch.cat([indices, indices]), torch.cat([indices, indices]), failed)


def nt_xent(projections: torch.Tensor, photo_ids: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Each view's other view (same photo id) is the right answer among all other views of the batch."""
    z = F.normalize(projections.float(), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    same = (photo_ids[:, None] == photo_ids[None, :]) & ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    return -(logits.log_softmax(1)[same]).mean()


class PairMeter:
    def __init__(self):
        self.loss_sum, self.batches, self.hits, self.views = 0.0, 0, 0, 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor) -> None:
        z = F.normalize(outputs, dim=1)
        sims = z @ z.T
        sims.fill_diagonal_(float("-inf"))
        self.hits += int((targets[sims.argmax(1)] == targets).sum())
        self.views += len(targets)
        self.loss_sum += float(loss)
        self.batches += 1

    def compute(self) -> dict[str, float]:
        return {"loss": self.loss_sum / max(self.batches, 1), "pair_accuracy": self.hits / max(self.views, 1)}


class ContrastiveTask:
    """What the engine needs: the NT-Xent loss and a meter whose score is how often a view finds its twin."""

    score_name = "pair_accuracy"

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nt_xent(outputs, targets)

    def new_meter(self) -> PairMeter:
        return PairMeter()


class PooledFeatures(nn.Module):
    """(B, 3, H, W) -> (B, C) unit embedding: the CNN without its projection head."""

    def __init__(self, cnn: TinyCNN):
        super().__init__()
        self.cnn = cnn

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.cnn.forward_features(images).mean((2, 3)), dim=1)


def train_selfsup(paths: list[str], run_dir: Path, epochs: int = 15, batch_size: int = 64, workers: int = -1, seed: int = 0,
                  log=print, progress: bool = True) -> Path:
    """Learn the CNN on ``paths``; returns the weights file (``run_dir/model.safetensors``)."""
    torch.manual_seed(seed)
    model = TinyCNN(num_classes=PROJECTION_DIM, width=WIDTH, drop_rate=0.0)
    workers = default_workers() if workers < 0 else workers
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(two_views(paths), batch_size=batch_size, shuffle=True, drop_last=len(paths) > batch_size,
                       num_workers=workers, collate_fn=collate_views, generator=generator)
    val_paths = paths[:: max(1, len(paths) // 256)]  # a fixed sample: the score tracks how well views find their twin
    val = DataLoader(two_views(val_paths), batch_size=batch_size, num_workers=workers, collate_fn=collate_views)
    config = TrainConfig(task="organize-selfsup", model="tiny_cnn", weights="none", epochs=epochs, batch_size=batch_size,
                         lr=2e-3, weight_decay=1e-4, warmup_epochs=1, patience=epochs, seed=seed, workers=workers, grad_clip=None)
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"self-supervised: learning a {WIDTH}-wide CNN on {len(paths)} photos for {epochs} epochs (no labels, no pretrained weights)")
    fit(model, ContrastiveTask(), train, val, config, run_dir, log=log, progress=progress)
    return run_dir / BEST


def selfsup_embedder(weights: str | None = None, index_dir: str | Path | None = None, found=(), epochs: int = 15, workers: int = -1,
                     log=print, progress: bool = True, **_) -> Embedder:
    """Weights from ``weights``, else those learnt earlier into ``index_dir``, else learnt now on ``found``."""
    path = Path(weights) if weights else (Path(index_dir) / FOLDER / BEST if index_dir else None)
    if path is None or not path.is_file():
        if weights:
            raise WeightsUnavailableError(f"{weights}: self-supervised weights file not found")
        if not found:
            raise WeightsUnavailableError(f"{Path(index_dir or '.') / FOLDER}: no self-supervised model yet; run `vislearn organize DIR "
                                          f"--out {index_dir} --embedder self-supervised` first")
        path = train_selfsup([f.path for f in found], Path(index_dir) / FOLDER, epochs, workers=workers, log=log, progress=progress)
    tensors, _meta = load_tensors(path)
    cnn = TinyCNN(num_classes=PROJECTION_DIM, width=WIDTH, drop_rate=0.0)
    cnn.load_state_dict(tensors)
    digest = sha256_hex(path.read_bytes())[:12]
    return Embedder("self-supervised", f"selfsup-{IMAGE_SIZE}-{digest}", PooledFeatures(cnn).eval(), cnn.num_features, IMAGE_SIZE, MEAN, STD)
