"""``vislearn serve RUN [RUN ...]``: the runs behind an HTTP API and a web page (uvicorn), safe by default.

- Binds to 127.0.0.1 unless told otherwise; binding anywhere else needs an API key (``--api-key-env VAR``).
- Uploads above ``--max-upload-mb`` get 413, images above ``--max-pixels`` 422, non-images 415.
- SIGINT/SIGTERM drain: requests in flight are answered, new ones refused, then the process exits.
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


def command(args, log) -> dict:
    """What ``vislearn serve`` does: build the app and run uvicorn until interrupted."""
    import uvicorn

    from .app import Settings, create_app
    from .uploads import Limits

    key = api_key_from_env(args.api_key_env, args.host)
    served = load_served(args.runs)
    settings = Settings(Limits(int(args.max_upload_mb * 1024 * 1024), args.max_pixels), args.max_batch, args.max_wait_ms,
                        args.request_timeout_s, key)
    app = create_app(served, settings)
    for s in served:
        log(f"serving {s.run.dir} ({s.task}) at http://{args.host}:{args.port}/v1/runs/{s.name}/predict")
    log(f"web page: http://{args.host}:{args.port}/   API docs: http://{args.host}:{args.port}/docs   "
        f"batching: up to {args.max_batch} images within {args.max_wait_ms:g} ms   api key: {'required' if key else 'off (loopback only)'}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=int(args.request_timeout_s) + 5)
    return {"served": [s.name for s in served]}
