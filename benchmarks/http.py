"""The HTTP API against the in-process paths it wraps, measured in the same run.

1. Throughput: the generated workload (``benchmarks._workload``) posted to
   ``POST /v1/events`` of a real ``govledger serve`` (uvicorn, a fresh SQLite file,
   default durability) by 4 concurrent clients (httpx, one thread each), in
   batches of 1,000 lines; the workload is split into 4 streams by decision_id, so
   each decision's events keep their order. Baseline: ``govledger ingest`` of the
   same file into a fresh SQLite file, in-process (as ``benchmarks.ingest``).
   Goal: at least 0.8 of the baseline's events/s. The time counted for the server is
   from the first request to the last response (start-up excluded); the clients
   run on the same 2 cores as the server.

2. Latency: ``POST /v1/gates`` one call at a time (each durable before it answers)
   against ``GovernanceLedger.evaluate_gate`` in-process on a fresh SQLite file,
   the same calls (``benchmarks.command``'s mix); p50 and p99 of each.

``python -m benchmarks.http [--events N] [--repeats R] [--calls N]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks import _harness
from benchmarks.command import calls
from benchmarks.ingest import _fresh, ingest_govledger, workload
from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from ledger.serve import Tokens

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4
BATCH = 1000
STATUSES = ("accepted", "duplicate", "rejected")


class _Server:
    def __init__(self, store: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = LedgerConfig(store=str(store), projection=str(store.with_suffix(".duckdb")))
        with bootstrap(config).ledger() as ledger:
            self.token = Tokens.of(ledger).add("bench", "orchestrator")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger",
                "--store",
                str(store),
                "--projection",
                config.projection,
                "serve",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        msg = "the server did not start"
        raise RuntimeError(msg)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=600
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=120)


def _streams(source: Path) -> list[list[bytes]]:
    """
    The workload's lines in ``CLIENTS`` streams (by decision_id), each as request bodies.
    """
    streams: list[list[bytes]] = [[] for _ in range(CLIENTS)]
    for raw in source.read_bytes().splitlines():
        try:
            decision_id = orjson.loads(raw).get("decision_id")
        except (orjson.JSONDecodeError, AttributeError):
            decision_id = None
        index = hash(decision_id) % CLIENTS if isinstance(decision_id, str) else 0
        streams[index].append(raw)
    return [
        [b"\n".join(lines[i : i + BATCH]) + b"\n" for i in range(0, len(lines), BATCH)]
        for lines in streams
    ]


def post_streams(server: _Server, bodies: list[list[bytes]]) -> dict[str, int]:
    """
    Each stream posted by its own client thread, all at once; the results counted.
    """
    counts: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(bodies))

    def run(stream: list[bytes]) -> None:
        with server.client() as client:
            start.wait(timeout=60)
            for body in stream:
                response = client.post(
                    "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
                )
                # Counted without parsing each line: the client's work stays small.
                got = {k: response.content.count(f'"status":"{k}"'.encode()) for k in STATUSES}
                with lock:
                    for status, n in got.items():
                        counts[status] = counts.get(status, 0) + n

    threads = [threading.Thread(target=run, args=(stream,)) for stream in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def throughput(events: int, repeats: int) -> _harness.Result:
    source = workload(events)
    bodies = _streams(source)
    subject_s: list[float] = []
    raw_s: list[float] = []
    counts: dict[str, int] = {}
    # Warm-up: one small run of each.
    ingest_govledger(workload(5_000), _fresh())
    for _ in range(repeats):
        started = time.perf_counter()
        ingest_govledger(source, _fresh())
        raw_s.append(time.perf_counter() - started)
        server = _Server(_fresh())
        try:
            started = time.perf_counter()
            counts = post_streams(server, bodies)
            subject_s.append(time.perf_counter() - started)
        finally:
            server.stop()
    result = _harness.Result("http", events, subject_s, raw_s)
    print(result.line().replace("raw ", "ingest "), flush=True)
    print(f"         results through HTTP: {counts}", flush=True)
    _harness.record(
        "http",
        {
            "events": events,
            "events_per_s": round(result.subject_rate),
            "ingest_events_per_s": round(result.raw_rate),
            "ratio": round(result.ratio, 3),
            "subject_s": subject_s,
            "raw_s": raw_s,
            "clients": CLIENTS,
            "batch": BATCH,
        },
    )
    return result


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def latency(n: int) -> dict[str, Any]:
    work = calls(n, seed=11)
    in_process: list[float] = []
    with bootstrap(LedgerConfig(store=str(_fresh()))).ledger() as ledger:
        for call in work[:50]:  # warm-up
            ledger.evaluate_gate(**call)
        for call in work:
            started = time.perf_counter()
            ledger.evaluate_gate(**call, decision_id=str(uuid.uuid4()))
            in_process.append(time.perf_counter() - started)
    over_http: list[float] = []
    server = _Server(_fresh())
    try:
        with server.client() as client:
            for call in work[:50]:
                client.post("/v1/gates", json=call)
            for call in work:
                started = time.perf_counter()
                response = client.post("/v1/gates", json={**call, "decision_id": str(uuid.uuid4())})
                over_http.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(response.text)
    finally:
        server.stop()
    p50, p99 = _percentiles(over_http)
    base50, base99 = _percentiles(in_process)
    print(
        f"gates    {n:>9,} calls   POST /v1/gates p50 {p50:.2f} ms p99 {p99:.2f} ms   "
        f"evaluate_gate in-process p50 {base50:.2f} ms p99 {base99:.2f} ms",
        flush=True,
    )
    figures = {
        "calls": n,
        "http_p50_ms": round(p50, 3),
        "http_p99_ms": round(p99, 3),
        "in_process_p50_ms": round(base50, 3),
        "in_process_p99_ms": round(base99, 3),
    }
    _harness.record("http-gates", figures)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1_000)
    args = parser.parse_args(argv)
    throughput(args.events, args.repeats)
    latency(args.calls)


if __name__ == "__main__":
    main()
