"""The mean loss every validation meter reports is weighted by images, not by batches."""
import math

import torch

from vislearn.metrics.loss import MeanLoss


def test_mean_loss_weights_each_batch_by_its_images():
    mean = MeanLoss()
    mean.update(torch.tensor(1.0), 3)  # three images at loss 1
    mean.update(torch.tensor(5.0), 1)  # one image at loss 5: (3 + 5) / 4, not (1 + 5) / 2
    assert mean.compute() == 2.0 and mean.count == 4


def test_mean_loss_before_any_image_is_nan():
    assert math.isnan(MeanLoss().compute())
