"""The pre-judge and the fine look give each pair the same numbers whatever batch it is judged in and whatever torch's
thread count: speeding them up (one thread, chunks of pairs in several processes) must not change a verdict."""
import numpy as np
import pytest
import torch

from vislearn.organize.fine_judge import fine_look, fine_thumbnail
from vislearn.organize.planted import look_alike_trousers
from vislearn.organize.prejudge import prejudge, thumbnail

from test_organize_prejudge import PHOTO, as_picture, copies_of


def screened(pictures, first, second):
    """(P,) pre-judge residuals, (P,) fine residuals and (P,) fine worst windows of the pairs (first[p], second[p])."""
    thumbs, fine = np.stack([thumbnail(p) for p in pictures]), np.stack([fine_thumbnail(p) for p in pictures])
    sizes, valid = np.array([(p.width, p.height) for p in pictures], float), np.ones(len(pictures), bool)
    found = prejudge(thumbs, valid, first, second)
    look = fine_look(fine, valid, sizes, first, second, found.params)
    return np.stack([found.residual, look.residual, look.worst_window])


def test_pairs_get_the_same_numbers_alone_or_batched_and_on_any_thread_count():
    """Copies of a photo and of a look-alike product, and distinct look-alikes: judged all at once on two threads, one
    pair at a time, and in reverse order, the numbers agree bit for bit; torch's thread count is left as it was."""
    copies = [p for _, a, b in copies_of(PHOTO, 4)[:4] + copies_of(look_alike_trousers(1, seed=5)[0], 4)[:4] for p in (a, b)]
    pictures = copies + [as_picture(i) for i in look_alike_trousers(4, seed=1)]
    first = np.array([*range(0, len(copies), 2), *[len(copies) + i for i in (0, 0, 1, 2)]])
    second = np.array([*range(1, len(copies), 2), *[len(copies) + i for i in (1, 2, 3, 3)]])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        together = screened(pictures, first, second)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    alone = np.concatenate([screened(pictures, first[p:p + 1], second[p:p + 1]) for p in range(len(first))], axis=1)
    backwards = screened(pictures, first[::-1], second[::-1])[:, ::-1]
    assert np.isfinite(together).all()
    np.testing.assert_array_equal(alone, together)
    np.testing.assert_array_equal(backwards, together)


@pytest.mark.slow
def test_pairs_screened_over_two_processes_get_the_same_verdicts_as_in_one(monkeypatch):
    """The batched gates over worker processes (chunks of 3 pairs, each with only its own thumbnails) give every pair the
    same residual and the same rejection as one process: copies go on, look-alikes are stopped for the same reason."""
    from vislearn.organize import screening

    copies = [p for _, a, b in copies_of(PHOTO, 4)[:4] + copies_of(look_alike_trousers(1, seed=5)[0], 4)[:4] for p in (a, b)]
    pictures = copies + [as_picture(i) for i in look_alike_trousers(4, seed=1)]
    thumbs = screening.Thumbnails(np.stack([thumbnail(p) for p in pictures]), np.ones(len(pictures), bool),
                                  np.array([(p.width, p.height) for p in pictures], float),
                                  np.stack([fine_thumbnail(p) for p in pictures]))
    k = len(copies)
    first = np.array([*range(0, k, 2), k, k, k + 1, k + 2, 1, 3])
    second = np.array([*range(1, k, 2), k + 1, k + 2, k + 3, k + 3, k, k + 2])
    one_residual, one_verdicts, _ = screening.screen_pairs(thumbs, first, second)
    monkeypatch.setattr(screening, "CHUNK_PAIRS", 3)
    residual, verdicts, _ = screening.screen_in_parallel(thumbs, first, second, workers=2)
    np.testing.assert_array_equal(residual, one_residual)
    assert verdicts == one_verdicts
    assert all(v is None for v in verdicts[:k // 2 - 1]) and any(v is not None for v in verdicts[k // 2:])
