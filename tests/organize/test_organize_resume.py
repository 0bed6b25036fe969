"""`vislearn organize` killed with SIGKILL mid-embedding, then run again: it resumes from the finished shards."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from torch import nn

import vislearn.organize.embed as embed_module
import vislearn.tasks.organize.index as organize_task
from vislearn.organize.embedders import Embedder
from vislearn.organize.store import EmbeddingStore

from organize_helpers import write_photo

SHARD, BATCH, PHOTOS = 8, 4, 48
# A child process running the real CLI with a slow 3-number embedder (mean colour, 0.1 s per batch) and shards of 8
# photos; each batch's size is appended to EMBEDDED_LOG so the parent knows how far embedding got when it kills.
CHILD = f"""
import sys, time
from torch import nn
import vislearn.organize.embed as embed
from vislearn.organize.embedders import EMBEDDERS, Embedder
from vislearn.cli import main

embed.SHARD_SIZE = {SHARD}


class SlowMeanColour(nn.Module):
    def forward(self, images):
        time.sleep(0.1)
        with open(sys.argv[1], "a") as log:
            log.write(f"{{len(images)}}\\n")
        return images.mean((2, 3))


@EMBEDDERS.register("slow-mean-colour")
def slow_mean_colour(**_):
    return Embedder("slow-mean-colour", "slow-mean-colour-1", SlowMeanColour().eval(), dim=3, image_size=16, mean=(0, 0, 0),
                    std=(1, 1, 1), onnx_ok=False)


sys.exit(main(sys.argv[2:]))
"""


def _command(photos, index, embedded_log):
    return [sys.executable, "-c", CHILD, str(embedded_log), "organize", str(photos), "--out", str(index), "--embedder", "slow-mean-colour",
            "--workers", "0", "--batch-size", str(BATCH), "--json", "--quiet"]


def _records(index) -> int:
    """Photos the store on disk holds (manifest plus journal), as a new run would read them."""
    return len(EmbeddingStore(index, "slow-mean-colour-1", 3).entries)


def _embedded(embedded_log) -> int:
    return sum(int(line) for line in embedded_log.read_text().split()) if embedded_log.exists() else 0


class CountingMeanColour(nn.Module):
    """The child's embedder without the sleep, counting the photos it embeds."""

    def __init__(self):
        super().__init__()
        self.embedded = 0

    def forward(self, images):
        self.embedded += len(images)
        return images.mean((2, 3))


def _organize_here(photos, index, monkeypatch) -> tuple:
    """The same organize in this process (no second interpreter start-up), with the child's embedder key and shard size."""
    model = CountingMeanColour().eval()
    embedder = Embedder("slow-mean-colour", "slow-mean-colour-1", model, dim=3, image_size=16, mean=(0, 0, 0), std=(1, 1, 1), onnx_ok=False)
    monkeypatch.setattr(organize_task, "load_embedder", lambda *a, **k: embedder)
    monkeypatch.setattr(embed_module, "SHARD_SIZE", SHARD)
    options = organize_task.OrganizeOptions(embedder="slow-mean-colour", workers=0, batch_size=BATCH)
    return organize_task.organize(photos, index, options, log=lambda _m: None, progress=False), model.embedded


@pytest.mark.slow
def test_resume_after_kill_loses_at_most_one_shard_and_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    for i in range(PHOTOS):
        write_photo(photos / f"p{i:02d}.png", ((i * 37) % 250, (i * 91) % 250, (i * 53) % 250), noise_seed=i)
    killed, embedded_log = tmp_path / "killed", tmp_path / "killed.log"
    child = subprocess.Popen(_command(photos, killed, embedded_log), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # interpreter and torch start-up: seconds, more on a loaded machine
    while _records(killed) < 2 * SHARD and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, f"the child ended before the kill: {child.stderr.read()[-2000:]}"
    kept, done_at_kill = _records(killed), _embedded(embedded_log)
    assert 2 * SHARD <= kept < PHOTOS
    assert done_at_kill - kept <= SHARD  # what the kill lost: at most one shard's worth of embedded photos

    resumed, embedded_again = _organize_here(photos, killed, monkeypatch)
    assert (resumed.update.reused, resumed.update.embedded, embedded_again) == (kept, PHOTOS - kept, PHOTOS - kept)
    assert not list(killed.rglob("journal.jsonl"))  # folded into the manifest at the end of the run
    assert set(resumed.stage_seconds) == {"scan", "embed", "grouping", "naming", "search index", "duplicates", "writing files", "gallery"}
    whole, _ = _organize_here(photos, tmp_path / "whole", monkeypatch)
    assert whole.update.embedded == PHOTOS
    a, b = (EmbeddingStore(i, "slow-mean-colour-1", 3).load() for i in (killed, tmp_path / "whole"))
    assert a.records == b.records
    np.testing.assert_array_equal(a.embedding_nd, b.embedding_nd)
    for name in ("groups.csv", "duplicates.csv"):
        assert (killed / name).read_text() == (tmp_path / "whole" / name).read_text()
