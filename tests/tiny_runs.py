"""Tiny, quiet trainings for tests: one epoch on the CPU in fp32, no loader workers, seed 0, no log or progress bar,
on one torch thread. Override a key by passing it, e.g. ``train_tiny("classify", data=..., out=..., epochs=8)``."""
import vislearn
from vislearn.engine.device import one_thread

TINY_RUN = dict(weights="none", epochs=1, workers=0, device="cpu", precision="fp32", log=None, progress=False, seed=0)
SMALL_CLASSIFIER = dict(model="tiny_cnn_small", image_size=16, batch_size=16)  # 3 classes of digits train in seconds


def train_tiny(task: str, **options):
    """``vislearn.train(task, **TINY_RUN | options)`` on one torch thread (restored afterwards): tiny tensors gain
    nothing from threads, and threads spinning against each other on a busy 2-core machine made fits 3-10x slower."""
    with one_thread():
        return vislearn.train(task, **{**TINY_RUN, **options})
