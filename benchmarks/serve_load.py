"""Load test of ``vislearn serve`` against a naive FastAPI endpoint (one eager forward per request), same run, same run.

Both servers run as their own processes on 127.0.0.1 and answer the same JPEG photos (192-512 px, cut from
scikit-image's sample photos) for the same classify run. For each concurrency level the client (httpx, asyncio) sends
``--requests`` requests, at most ``--max-seconds`` seconds per level, to one server and then the other, and prints
throughput, p50/p95/p99 latency, the error count (must be 0) and each server's peak RSS. The ratio row is vislearn's
throughput over the naive one's at the same concurrency (target: >= 2x at 16 for the Lite0 classifier on 2 cores).

The naive server is what one writes first: FastAPI, the work in its thread pool (as for a plain ``def`` endpoint),
PIL decode -> the run's own torchvision preprocessing -> ``model(x)`` under ``torch.no_grad()`` -> softmax(logits / T).

    .venv/bin/python benchmarks/serve_load.py                                  # tf_efficientnet_lite0, 224 px
    .venv/bin/python benchmarks/serve_load.py --model tiny_cnn --requests 400 # a quick look
    .venv/bin/python benchmarks/serve_load.py --run runs/demo                  # your own classify run
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from fastapi import Request  # module level: the endpoint's annotation must resolve (from __future__ import annotations)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_run, photo_files  # noqa: E402

LEVELS = (1, 4, 16, 64)
TARGET_AT_16 = 2.0


def naive_app(run_dir: str):
    """The naive endpoint: one eager forward per request, in FastAPI's thread pool."""
    import io

    import torch
    from fastapi import FastAPI
    from PIL import Image

    from vislearn.data import eval_transform
    from vislearn.run import Run
    from vislearn.tasks.classify import run as classify_run

    run = Run.load(run_dir)
    model, transform = classify_run.load_model(run), eval_transform(run.preprocessing)
    temperature = classify_run.temperature(run)
    app = FastAPI()

    @app.get("/readyz")
    def ready() -> dict:
        return {"ready": True}

    @app.post("/v1/runs/{name}/predict")
    async def predict(name: str, request: Request) -> dict:
        data = await request.body()  # then the work in the thread pool, as FastAPI runs a plain `def` endpoint
        return await asyncio.get_running_loop().run_in_executor(None, answer, data)

    def answer(data: bytes) -> dict:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        with torch.no_grad():
            probs = torch.softmax(model(transform(image)[None]) / temperature, 1)[0]
        k = int(probs.argmax())
        return {"prediction": {"predicted": run.class_names[k], "confidence": float(probs[k])}}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, timeout_s: float = 600) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{command[:4]} not ready within {timeout_s:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(url: str, images: list[bytes], concurrency: int, requests: int, max_seconds: float) -> dict:
    """Send ``requests`` requests (cycling through ``images``) with ``concurrency`` in flight; latencies in ms."""
    import httpx

    latencies, errors, answers, sent = [], 0, {}, iter(range(requests))
    started = time.perf_counter()

    async def worker(client):
        nonlocal errors
        for i in sent:
            if time.perf_counter() - started > max_seconds:
                return
            t0 = time.perf_counter()
            try:
                r = await client.post(url, content=images[i % len(images)], headers={"content-type": "image/jpeg"})
                ok = r.status_code == 200
                if ok:
                    answers[i % len(images)] = r.json()["prediction"]["predicted"]
            except httpx.HTTPError:
                ok = False
            errors += not ok
            latencies.append((time.perf_counter() - t0) * 1000)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    wall = time.perf_counter() - started
    lat = np.array(latencies)
    return {"requests": len(lat), "errors": errors, "throughput": len(lat) / wall, "p50": np.percentile(lat, 50),
            "p95": np.percentile(lat, 95), "p99": np.percentile(lat, 99), "answers": answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a classify run folder (default: a Lite0 run made once for benchmarks)")
    parser.add_argument("--model", default="tf_efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--requests", type=int, default=192, help="requests per concurrency level and server")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop a level after this long")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=10)
    parser.add_argument("--naive-server", metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_server:
        import uvicorn

        uvicorn.run(naive_app(args.naive_server), host="127.0.0.1", port=args.port, log_level="warning")
        return

    run_dir = Path(args.run) if args.run else bench_run(args.model, args.image_size)
    images = [p.read_bytes() for p in photo_files(48)]
    ports = {"vislearn serve": free_port(), "naive FastAPI": free_port()}
    commands = {"vislearn serve": [sys.executable, "-m", "vislearn", "serve", str(run_dir), "--port", str(ports["vislearn serve"]),
                                   "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms), "--quiet"],
                "naive FastAPI": [sys.executable, __file__, "--naive-server", str(run_dir), "--port", str(ports["naive FastAPI"])]}
    print(f"run {run_dir}  {len(images)} JPEG photos  cores {os.cpu_count()}  load average {os.getloadavg()[0]:.1f}", flush=True)
    processes = {name: start(command, ports[name]) for name, command in commands.items()}
    rows, name_of_run = [], Path(run_dir).resolve().name
    try:
        for level in map(int, args.levels.split(",")):
            for name, port in ports.items():
                url = f"http://127.0.0.1:{port}/v1/runs/{name_of_run}/predict"
                asyncio.run(load(url, images, min(level, 4), min(8, args.requests), 30))  # warm connections and caches
                cpu_before = cpu_seconds(processes[name].pid)
                result = asyncio.run(load(url, images, level, args.requests, args.max_seconds))
                result["per_cpu_s"] = result["requests"] / max(cpu_seconds(processes[name].pid) - cpu_before, 1e-9)
                rows.append({"server": name, "concurrency": level, **result})
                print(f"{name:15s} c={level:<3d} {result['requests']:5d} req  {result['errors']} errors  "
                      f"{result['throughput']:7.1f} req/s  p50 {result['p50']:7.1f}  p95 {result['p95']:7.1f}  "
                      f"p99 {result['p99']:7.1f} ms  {result['per_cpu_s']:6.1f} req per server CPU s", flush=True)
        rss = {name: peak_rss_mb(p.pid) for name, p in processes.items()}
    finally:
        for p in processes.values():
            p.terminate()
            p.wait(timeout=60)
    print(f"\n| server | concurrency | requests | errors | req/s | req per CPU s | p50 ms | p95 ms | p99 ms | peak RSS MB |\n|{'---|' * 10}")
    for r in rows:
        print(f"| {r['server']} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['throughput']:.1f} | {r['per_cpu_s']:.1f} | "
              f"{r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {rss[r['server']]:.0f} |")
    by = {(r["server"], r["concurrency"]): r for r in rows}
    print(f"\nratio, vislearn serve / naive FastAPI (load average now {os.getloadavg()[0]:.1f}; on a shared machine the "
          "server with more runnable threads takes more of the cores: read req per CPU s there):")
    for level in map(int, args.levels.split(",")):
        ratio = by["vislearn serve", level]["throughput"] / by["naive FastAPI", level]["throughput"]
        work = by["vislearn serve", level]["per_cpu_s"] / by["naive FastAPI", level]["per_cpu_s"]
        note = f"  (target >= {TARGET_AT_16:g}x: {'met' if ratio >= TARGET_AT_16 else 'NOT met'})" if level == 16 else ""
        print(f"  concurrency {level:3d}: throughput {ratio:.2f}x{note}, requests per CPU second {work:.2f}x")
    both = [i for i in by["vislearn serve", 1]["answers"] if i in by["naive FastAPI", 1]["answers"]]
    agree = sum(by["vislearn serve", 1]["answers"][i] == by["naive FastAPI", 1]["answers"][i] for i in both)
    print(f"same predicted class on {agree} of {len(both)} photos; errors in all: {sum(r['errors'] for r in rows)}")


if __name__ == "__main__":
    main()
