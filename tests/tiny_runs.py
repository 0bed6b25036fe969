"""Settings that make any task's training run tiny and quiet in a test: one epoch on the CPU in fp32, no loader
workers, seed 0, no log or progress bar. Override a key by passing the changed dict, e.g. ``{**TINY_RUN, "epochs": 8}``."""
TINY_RUN = dict(weights="none", epochs=1, workers=0, device="cpu", precision="fp32", log=None, progress=False, seed=0)
