"""``vislearn serve RUN [RUN ...]``: the runs behind an HTTP API and a web page (uvicorn), safe by default.

- Binds to 127.0.0.1 unless told otherwise; binding anywhere else needs an API key (``--api-key-env VAR``).
- Uploads above ``--max-upload-mb`` get 413, images above ``--max-pixels`` 422, non-images 415.
- SIGINT/SIGTERM drain: requests in flight are answered, new ones refused, then the process exits.
- ``--review-dir DIR`` gives each served classify run a review queue (``serve/review_queue.py``) in ``DIR/<run name>/``:
  referred uploads are kept there (opt-in: without it no upload is ever written to disk), ``--review-csv`` adds the
  images of a ``vislearn suggest`` / ``review`` CSV, and a person's labels go to ``DIR/<run name>/corrections.csv``.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path

from ..errors import VislearnError

LOOPBACK_NAMES = {"localhost"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders to serve (each under its folder's name: /v1/runs/NAME/predict)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key-env", metavar="VAR", help="require the API key held in environment variable VAR "
                                                        "(required when --host is not a loopback address)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload in MB (413 above it; default 20)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="largest image in pixels, width x height (422 above it)")
    p.add_argument("--max-batch", type=int, default=16, help="images per model call at most (dynamic batching; default 16)")
    p.add_argument("--max-wait-ms", type=float, default=10.0, help="how long a request waits for others to join its batch (default 10)")
    p.add_argument("--request-timeout-s", type=float, default=30.0, help="a request not answered within this gets 504 (default 30)")
    p.add_argument("--review-dir", metavar="DIR", help="give classify runs a review queue on the web page: referred uploads are "
                                                       "kept in DIR/<run>/referred/, labels written to DIR/<run>/corrections.csv")
    p.add_argument("--review-csv", action="append", default=[], metavar="[RUN=]CSV",
                   help="queue the images of a `vislearn suggest` or `vislearn review` CSV for RUN (the only classify run "
                        "when RUN= is left out); repeatable; needs --review-dir")
    p.add_argument("--review-keep", type=int, default=1000, help="referred uploads kept per run at most (default 1000)")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key_from_env(var: str | None, host: str) -> str | None:
    """The API key named by ``--api-key-env``; an error when it is unset, or when none is given for a non-loopback host."""
    if var is None:
        if not is_loopback(host):
            raise VislearnError(f"--host {host} makes the server reachable from other computers: give --api-key-env VAR "
                                "(the API key in environment variable VAR), or bind to 127.0.0.1")
        return None
    key = os.environ.get(var, "")
    if len(key) < 16:
        raise VislearnError(f"--api-key-env {var}: the variable is {'unset' if not key else 'shorter than 16 characters'}; "
                            "put a long random key in it (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return key


def load_served(run_dirs: list[str]):
    """One ServedRun per folder, named by the folder; a clear error for a missing folder or a repeated name."""
    from .served import ServedRun

    names = [Path(d).resolve().name for d in run_dirs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise VislearnError(f"two served runs share the folder name {', '.join(repeated)}: rename one (runs are served by folder name)")
    return [ServedRun.load(name, d) for name, d in zip(names, run_dirs)]


def review_csvs_by_run(given: list[str], classify_names: list[str]) -> dict[str, list[Path]]:
    """``--review-csv [RUN=]CSV`` values as {run name: [CSV paths]}; a clear error for an unknown run, a missing file,
    or a CSV without RUN= when not exactly one classify run is served."""
    by_run: dict[str, list[Path]] = {name: [] for name in classify_names}
    for value in given:
        name, _, path = value.rpartition("=")
        if not name:
            if len(classify_names) != 1:
                raise VislearnError(f"--review-csv {value}: say which run it is for (RUN=CSV); classify runs served: "
                                    f"{', '.join(classify_names) or 'none'}")
            name = classify_names[0]
        if name not in by_run:
            raise VislearnError(f"--review-csv {value}: {name!r} is not a served classify run ({', '.join(classify_names) or 'none'})")
        if not Path(path).is_file():
            raise VislearnError(f"--review-csv {value}: no such file")
        by_run[name].append(Path(path))
    return by_run


def attach_review_queues(served: list, review_dir: str | None, csvs: list[str], keep: int, log) -> None:
    """Give every served classify run its :class:`ReviewQueue` in ``review_dir/<run name>/`` (nothing without review_dir)."""
    from .review_queue import ReviewQueue

    if review_dir is None:
        if csvs:
            raise VislearnError("--review-csv needs --review-dir DIR (where the queue keeps its images and the corrections CSV)")
        return
    classify = [s for s in served if s.task == "classify"]
    for s in served:
        if s.task != "classify":
            log(f"{s.name}: no review queue ({s.task} runs have no labels to correct; classify runs only)")
    by_run = review_csvs_by_run(csvs, [s.name for s in classify])
    for s in classify:
        s.queue = ReviewQueue(Path(review_dir) / s.name, list(s.run.class_names), by_run[s.name], keep, log=lambda m, n=s.name: log(f"{n}: {m}"))


def command(args, log) -> dict:
    """What ``vislearn serve`` does: build the app and run uvicorn until interrupted."""
    import uvicorn

    from .app import Settings, create_app
    from .uploads import Limits

    key = api_key_from_env(args.api_key_env, args.host)
    served = load_served(args.runs)
    attach_review_queues(served, args.review_dir, args.review_csv, args.review_keep, log)
    settings = Settings(Limits(int(args.max_upload_mb * 1024 * 1024), args.max_pixels), args.max_batch, args.max_wait_ms,
                        args.request_timeout_s, key)
    app = create_app(served, settings)
    for s in served:
        log(f"serving {s.run.dir} ({s.task}) at http://{args.host}:{args.port}/v1/runs/{s.name}/predict")
    log(f"web page: http://{args.host}:{args.port}/   API docs: http://{args.host}:{args.port}/docs   "
        f"batching: up to {args.max_batch} images within {args.max_wait_ms:g} ms   api key: {'required' if key else 'off (loopback only)'}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=int(args.request_timeout_s) + 5)
    return {"served": [s.name for s in served]}
