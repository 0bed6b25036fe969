"""Progress of the long stages of ``vislearn organize``: a tqdm bar with ETA per stage, and each stage's wall time.

Bars go to stderr and only to a terminal (tqdm's ``disable=None``): piped output, ``--quiet`` and ``--json``
get none. Stage times are logged as each stage ends and returned in ``OrganizeResult.stage_seconds``.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from tqdm import tqdm


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, total: int | None = None, desc: str = "",
                 unit: str = "img", leave: bool = False) -> tqdm:
    """A tqdm bar on stderr with rate and ETA; silent when ``enabled`` is False or stderr is not a terminal."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True, file=sys.stderr,
                disable=None if enabled else True)


class StageClock:
    """``with clock("grouping", n_images) as stage: ...`` times a stage; ``seconds`` maps stage -> wall seconds.
    ``stage["n_images"] = n`` inside the block corrects the count the rate is logged for (e.g. only the new photos)."""

    def __init__(self, log: Callable[[str], None] = print):
        self.log = log
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str, n_images: int) -> Iterator[dict]:
        start, counted = time.perf_counter(), {"n_images": n_images}
        yield counted
        spent, n_images = time.perf_counter() - start, counted["n_images"]
        self.seconds[stage] = self.seconds.get(stage, 0.0) + spent
        rate = f" for {n_images:,} images, {n_images / spent:,.0f} images/s" if spent > 0 and n_images else ""
        self.log(f"{stage}: {spent:.1f} s{rate}")
