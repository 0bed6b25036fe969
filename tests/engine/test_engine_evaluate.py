"""collect_outputs: the model's outputs for every readable image, with labels, dataset indices and failed files."""
from __future__ import annotations

import torch

from vislearn.data import Sample, eval_transform, make_loader, read_image
from vislearn.engine import collect_outputs
from vislearn.models import preprocessing_for


def test_outputs_come_back_in_dataset_order_with_the_unreadable_file_named(tmp_path, digit_samples, new_model):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"GIF89a, but no")
    samples = digit_samples[:5] + [Sample(str(garbage), 1)] + digit_samples[5:7]
    model = new_model().eval()
    transform = eval_transform(preprocessing_for(model, 16))
    loader = make_loader(samples, transform, batch_size=3, shuffle=False, workers=0)

    outputs, labels, indices, failed = collect_outputs(model, loader, torch.device("cpu"), progress=False)

    assert indices.tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert labels.tolist() == [samples[i].label for i in indices.tolist()]
    assert [p.path for p in failed] == [str(garbage)]
    with torch.no_grad():
        direct = model(torch.stack([transform(read_image(samples[i].path)) for i in indices.tolist()]))
    torch.testing.assert_close(outputs, direct)


def test_no_readable_image_gives_empty_outputs(tmp_path, new_model):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"")
    model = new_model()
    loader = make_loader([Sample(str(garbage), 0)], eval_transform(preprocessing_for(model, 16)), 4, False, 0)
    outputs, labels, indices, failed = collect_outputs(model, loader, torch.device("cpu"), progress=False)
    assert (len(outputs), len(labels), len(indices)) == (0, 0, 0)
    assert [(p.path, p.reason) for p in failed] == [(str(garbage), "empty file (0 bytes)")]
