"""One epoch of ``fit`` on tiny digits, for test_engine_distributed.py: ``python -m torch.distributed.run
--nproc_per_node 2 ddp_one_epoch.py DATA RUN`` trains in 2 processes (gloo); ``main(DATA, RUN)`` in one process
trains on the same global batches (the permutation both processes share, one batch = one step of both)."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from vislearn.config import TrainConfig
from vislearn.data import Sample, eval_transform, make_loader, train_transform
from vislearn.data.dataset import ImageDataset, collate
from vislearn.engine import distributed, fit
from vislearn.models import Preprocessing
from vislearn.tasks.classify.train import ClassifyTask

GLOBAL_BATCH = 10  # 30 digits: 3 optimizer steps
PRE = Preprocessing((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 16)


def start_model() -> nn.Module:
    """No BatchNorm and no dropout: batch statistics of one batch of 10 are not those of two of 5 (and torch's
    SyncBatchNorm, which would pool them, has no CPU kernel), and dropout masks are drawn per process."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))


def main(data: str, run_dir: str) -> None:
    world = distributed.start(torch.device("cpu"))
    config = TrainConfig(weights="none", epochs=1, batch_size=GLOBAL_BATCH // world.size, image_size=16, augment="none",
                         patience=100, workers=0, device="cpu", precision="fp32")
    samples = [Sample(str(p), int(p.parent.name)) for p in sorted(Path(data).glob("*/*.png"))]
    transform = train_transform(PRE, config.augment)
    if world.size > 1:
        train = make_loader(samples, transform, config.batch_size, True, 0, config.seed)
    else:
        dataset = ImageDataset(samples, transform)
        train = DataLoader(dataset, config.batch_size, sampler=DistributedSampler(dataset, 1, 0, seed=config.seed), collate_fn=collate)
    val = make_loader(samples[::3], eval_transform(PRE), 8, False, 0)
    fit(start_model(), ClassifyTask(3), train, val, config, run_dir, log=lambda _line: None, progress=False)
    distributed.cleanup()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1], sys.argv[2])
