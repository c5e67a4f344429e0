"""Metrics benchmarks: GET learnpulse/api/metrics vs jupyter-resource-usage, and sampler overhead.

Run with ``learnpulse benchmark metrics`` or ``python benchmarks/bench_metrics.py``.

1. Latency: one real Jupyter server with both learnpulse and jupyter-resource-usage enabled
   and one kernel running; ``GET learnpulse/api/metrics`` and ``GET api/metrics/v1`` are
   requested alternately over keep-alive connections; p50/p99 of each, same run.
   learnpulse serves the newest sample of its background sampler; jupyter-resource-usage
   measures the processes on each request.
2. Overhead: process CPU time over ``--duration`` seconds with a SystemSampler at 1 Hz vs the
   same process idle, as % of one core; plus the CPU time of one sample.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.collectors.system import SamplerConfig, SystemSampler

TOKEN = "bench-metrics-token"
OURS, THEIRS = "/learnpulse/api/metrics", "/api/metrics/v1"
#: Seconds to wait for the server to answer before giving up.
STARTUP_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(connection: http.client.HTTPConnection, path: str, method: str = "GET") -> bytes:
    connection.request(
        method,
        path,
        body=b"{}" if method == "POST" else None,
        headers={"Authorization": f"token {TOKEN}"},
    )
    response = connection.getresponse()
    body = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {body[:200]!r}")
    return body


def start_server(folder: Path) -> tuple[subprocess.Popen, int]:
    """A Jupyter server with learnpulse and jupyter-resource-usage on a loopback port."""
    port = _free_port()
    config = folder / "bench_config.json"
    config.write_text(
        json.dumps(
            {
                "ServerApp": {
                    "jpserver_extensions": {
                        "learnpulse_server": True,
                        "jupyter_resource_usage": True,
                    },
                    "root_dir": str(folder),
                    "port": port,
                    "ip": "127.0.0.1",
                    "open_browser": False,
                    "allow_root": True,  # containers and CI often run as root
                },
                "IdentityProvider": {"token": TOKEN},
                "LearnPulseApp": {"db_url": f"sqlite:///{folder / 'bench.db'}"},
            }
        )
    )
    command = [sys.executable, "-m", "jupyter_server", f"--config={config}"]
    log = (folder / "server.log").open("w")
    # Private data/runtime dirs: the benchmark never touches the user's Jupyter state.
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
    }
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            _request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), OURS)
            return server, port
        except (OSError, RuntimeError, http.client.HTTPException):
            if server.poll() is not None:
                break
            time.sleep(0.5)
    server.kill()
    tail = (folder / "server.log").read_text()[-3000:]
    raise RuntimeError(f"the Jupyter server did not start:\n{tail}")


def bench_latency(port: int, requests: int) -> dict:
    """p50/p99 (ms) of both endpoints, requested alternately."""
    ours_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    theirs_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    kernel = json.loads(_request(ours_conn, "/api/kernels", "POST"))["id"]
    time.sleep(2.0)  # let the kernel start and the sampler see it
    timings: dict[str, list[float]] = {OURS: [], THEIRS: []}
    for path, connection in ((OURS, ours_conn), (THEIRS, theirs_conn)):
        for _ in range(20):  # warm-up
            _request(connection, path)
    for k in range(requests):
        order = ((OURS, ours_conn), (THEIRS, theirs_conn))
        for path, connection in order if k % 2 else order[::-1]:
            started = time.perf_counter()
            _request(connection, path)
            timings[path].append((time.perf_counter() - started) * 1000)
    _request(ours_conn, f"/api/kernels/{kernel}", "DELETE")
    result = {}
    for name, path in (("learnpulse", OURS), ("resource_usage", THEIRS)):
        values = np.array(timings[path])
        result[f"{name}_p50_ms"] = float(np.percentile(values, 50))
        result[f"{name}_p99_ms"] = float(np.percentile(values, 99))
    result["p50_ratio"] = result["learnpulse_p50_ms"] / result["resource_usage_p50_ms"]
    return result


def _cpu_seconds_over(duration: float) -> float:
    started = time.process_time()
    time.sleep(duration)
    return time.process_time() - started


def bench_overhead(duration: float, interval: float) -> dict:
    """Process CPU over ``duration`` s with a sampler at ``interval`` vs idle, % of one core."""
    idle = _cpu_seconds_over(duration)
    sampler = SystemSampler(SamplerConfig(interval_s=interval))
    per_sample: list[float] = []

    def listener(_: dict) -> None:
        per_sample.append(time.thread_time())

    sampler.subscribe(listener)
    sampler.start()
    sampling = _cpu_seconds_over(duration)
    sampler.stop()
    thread_costs = np.diff(per_sample) if len(per_sample) > 1 else np.array([np.nan])
    return {
        "interval_s": interval,
        "samples": len(per_sample),
        "idle_cpu_s": idle,
        "sampling_cpu_s": sampling,
        "overhead_percent_of_core": 100 * max(sampling - idle, 0.0) / duration,
        "cpu_ms_per_sample": float(np.median(thread_costs) * 1000),
        "target_percent": 1.0,
    }


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark metrics", description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per CPU window")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "requests")

    with tempfile.TemporaryDirectory(prefix="lp-bench-metrics-") as tmp:
        server, port = start_server(Path(tmp))
        try:
            latency = bench_latency(port, args.requests)
        finally:
            server.terminate()
            server.wait(30)
    overhead = bench_overhead(args.duration, 1.0)
    table = pl.DataFrame(
        {
            "measure": [
                "GET metrics p50 (ms)",
                "GET metrics p99 (ms)",
                "sampler CPU at 1 Hz (% of a core)",
                "CPU per sample (ms)",
            ],
            "learnpulse": [
                latency["learnpulse_p50_ms"],
                latency["learnpulse_p99_ms"],
                overhead["overhead_percent_of_core"],
                overhead["cpu_ms_per_sample"],
            ],
            "jupyter-resource-usage / target": [
                latency["resource_usage_p50_ms"],
                latency["resource_usage_p99_ms"],
                1.0,
                None,
            ],
        }
    )
    result = {"latency": latency, "overhead": overhead}
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
