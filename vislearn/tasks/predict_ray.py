"""``vislearn predict RUN SOURCE --engine ray``: the same predictions as ``vislearn predict``, computed on a Ray cluster.

The sorted image list is cut into fixed chunks (:mod:`vislearn.engine.ray_jobs`); a pool of Ray actors each loads the
run once and predicts a chunk through the run's own task (same preprocessing, backend and referral decisions as
without Ray), then writes ``OUT_DIR/shards/<chunk hash>.parquet`` holding the CSV's cells (all strings; unreadable
files in the file's metadata). A re-run skips the finished shards; the driver then merges every shard of the list, in
order, into the predictions CSV ``vislearn predict`` writes.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.images import expand_images, is_image_file
from ..engine.ray_jobs import CHUNK_SIZE, Chunk, chunks, one_thread_per_actor, pending, run_chunks
from ..errors import DataLayoutError, VislearnError
from ..files import atomic_write_bytes, read_json, write_json
from ..run import Run
from .base import TASKS, Log, prediction_table, verb_flags

SUFFIX = ".parquet"
JOB = "job.json"  # the run and options the shards were made with: shards of another job are never mixed in


def read_sources(items: Sequence[str | Path]) -> list[str]:
    """Image paths from folders (searched recursively), image files, and list files (one path per line, ``#``
    comments; relative paths are relative to the list file's folder)."""
    paths: list[str] = []
    for item in map(Path, items):
        if item.is_file() and not is_image_file(item):
            lines = [line.strip() for line in item.read_text().splitlines()]
            paths += [str(item.parent / line) for line in lines if line and not line.startswith("#")]
        else:
            paths += [str(p) for p in expand_images([item])]
    if not paths:
        raise DataLayoutError(f"no images listed in {', '.join(map(str, items))}")
    return paths


class PredictChunk:
    """A Ray Data callable class: the run loads once per actor, then each call predicts one chunk into its shard."""

    def __init__(self, run_dir: str, options: dict, shard_dir: str):
        one_thread_per_actor()
        self.run = Run.load(run_dir)
        self.task = TASKS.get(self.run.config.task)
        self.options, self.shard_dir = options, Path(shard_dir)

    def __call__(self, batch: dict) -> dict:
        name, paths = str(batch["name"][0]), str(batch["paths"][0]).split("\n")
        predictions, problems = self.task.predict(self.run, [Path(p) for p in paths], progress=False, **self.options)
        header, rows = prediction_table(self.task)(self.run, predictions)
        write_shard(self.shard_dir / f"{name}{SUFFIX}", header, rows, [(p.path, p.reason) for p in problems])
        return {"name": np.array([name]), "predicted": np.array([len(rows)]), "unreadable": np.array([len(problems)])}


def write_shard(path: Path, header: list[str], rows: list[list], problems: list[tuple[str, str]]) -> None:
    """A Parquet file of the CSV's cells as strings (None as ""), the unreadable files as JSON metadata; atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {h: [("" if r[i] is None else str(r[i])) for r in rows] for i, h in enumerate(header)}
    table = pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()})
    table = table.replace_schema_metadata({"vislearn.unreadable": json.dumps(problems)})
    atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp))


def read_shard(path: Path) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """(header, rows, unreadable (path, reason)) of a shard written by :func:`write_shard`."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    problems = json.loads((table.schema.metadata or {}).get(b"vislearn.unreadable", b"[]"))
    return table.column_names, [list(r) for r in zip(*table.to_pydict().values())], [tuple(p) for p in problems]


def _claim(shard_dir: Path, job: dict) -> None:
    """Record the job in ``shard_dir`` or check it is the one recorded: shards of another run or options are refused."""
    path = shard_dir / JOB
    if path.exists() and read_json(path) != job:
        raise VislearnError(f"{shard_dir}: holds shards of another job ({read_json(path)}); give another --out-dir or delete it")
    write_json(path, job)


def predict_on_ray(run: Run, sources: Sequence[str | Path], out_dir: Path, options: dict, address: str | None = None,
                   actors: int | None = None, shard_size: int = CHUNK_SIZE, log: Log = print) -> dict:
    """Predict every image of ``sources`` on Ray into ``out_dir/shards``; returns the merged header, rows, unreadable
    files and the counts of shards run and skipped."""
    table = prediction_table(TASKS.get(run.config.task))
    if table is None:
        raise VislearnError(f"--engine ray predicts classify and defects runs; {run.dir} is a {run.config.task} run (predict it without --engine)")
    shard_dir = out_dir / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    _claim(shard_dir, {"run": str(Path(run.dir).resolve()), "options": options, "weights_mtime_ns": _weights_mtime(run)})
    everything = chunks(read_sources(sources), shard_size)
    todo = pending(everything, shard_dir, SUFFIX)
    log(f"{sum(len(c.paths) for c in everything)} images in {len(everything)} shards: {len(everything) - len(todo)} finished earlier "
        f"(skipped), {len(todo)} to predict")
    run_chunks(todo, PredictChunk, (str(run.dir), options, str(shard_dir)), actors, address, log)
    return {**merge(everything, shard_dir), "shards": len(everything), "shards_skipped": len(everything) - len(todo)}


def _weights_mtime(run: Run) -> int:
    files = sorted(Path(run.dir).glob("*.safetensors"))
    return max((f.stat().st_mtime_ns for f in files), default=0)


def merge(all_chunks: list[Chunk], shard_dir: Path) -> dict:
    """The rows of every chunk's shard, in chunk (= sorted path) order: {"header", "rows", "unreadable"}."""
    header: list[str] = []
    rows: list[list[str]] = []
    unreadable: list[tuple[str, str]] = []
    for chunk in all_chunks:
        names, shard_rows, problems = read_shard(shard_dir / f"{chunk.name}{SUFFIX}")
        header = header or names
        rows += shard_rows
        unreadable += problems
    return {"header": header, "rows": rows, "unreadable": unreadable}


def task_options(run: Run, args) -> dict:
    """The run's task's own ``predict`` flags (as ``vislearn predict`` passes them) plus the batch size."""
    group = verb_flags(TASKS.get(run.config.task), "predict")
    return {**{f.dest: getattr(args, f.dest) for f in (group.flags if group else ())}, "batch_size": args.batch_size}


def cli_predict(args, log: Log) -> dict:
    """``vislearn predict RUN SOURCE... --engine ray --out-dir DIR [--out CSV] [--address A] [--actors N]``."""
    if not args.out_dir:
        raise VislearnError("--engine ray needs --out-dir: the folder for its Parquet shards (re-runs skip the finished ones)")
    run = Run.load(args.run)
    out_dir = Path(args.out_dir)
    result = predict_on_ray(run, args.images, out_dir, task_options(run, args), args.address, args.actors,
                            args.shard_size, log)
    csv_path = Path(args.out) if args.out else out_dir / "predictions.csv"
    atomic_write_bytes(csv_path, lambda tmp: _write_csv(tmp, result["header"], result["rows"]))
    for path, reason in result["unreadable"]:
        log(f"skipped {path}: {reason}")
    referred = sum(r[result["header"].index("refer_to_human")] == "1" for r in result["rows"]) if result["rows"] else 0
    log(f"{len(result['rows'])} predicted, {referred} referred to a human, {len(result['unreadable'])} unreadable; "
        f"{result['shards']} shards ({result['shards_skipped']} finished earlier); wrote {csv_path}")
    return {"out": str(csv_path), "predicted": len(result["rows"]), "referred": referred, "shards": result["shards"],
            "shards_skipped": result["shards_skipped"], "skipped": [{"path": p, "reason": r} for p, r in result["unreadable"]]}


def _write_csv(path: str, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
