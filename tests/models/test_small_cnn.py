"""small_cnn and cnn5: the cheap models for small images cost under 2/3 of tiny_cnn's arithmetic at 28 px, same contract."""
import torch
from torch.utils.flop_counter import FlopCounterMode

from vislearn.models import create_model


def _training_flops(name: str, side: int) -> int:
    model = create_model(name, 10, "none")
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(2, 3, side, side)).sum().backward()
    return counter.get_total_flops()


def test_small_cnn_costs_at_most_two_thirds_of_tiny_cnn_at_28_px():
    assert _training_flops("small_cnn", 28) < 0.67 * _training_flops("tiny_cnn", 28)  # 0.60 (130 vs 220 MFLOP an image)


def test_small_cnn_features_are_a_quarter_of_the_input_side():
    model = create_model("small_cnn", 10, "none").eval()
    x = torch.zeros(2, 3, 28, 28)
    assert model.forward_features(x).shape == (2, 128, 7, 7) and model(x).shape == (2, 10)
    assert model.feature_info[-1] == {"module": "stages.1", "num_chs": 128, "reduction": 4}


def test_cnn5_keeps_full_resolution_in_its_first_block_at_two_thirds_of_tiny_cnn():
    model = create_model("cnn5", 10, "none").eval()
    x = torch.zeros(2, 3, 28, 28)
    assert model.stages[0](model.stem(x)).shape == (2, 32, 28, 28)
    assert model.forward_features(x).shape == (2, 128, 7, 7) and model(x).shape == (2, 10)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 5
    assert _training_flops("cnn5", 28) < 0.67 * _training_flops("tiny_cnn", 28)
