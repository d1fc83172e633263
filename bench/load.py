"""A small closed-loop HTTP load generator and the statistics the benchmark reports.

Each of `concurrency` threads sends a request, waits for the answer, and sends the next,
for `duration` seconds after a warm-up: a bounded load, so latency is service time rather
than queueing. Server CPU is read from /proc for the gunicorn workers, so the client's own
CPU use does not count. `drive` sends any mix of requests and keeps every exchange (the
audit ledger's load, bench/ledger.py); `run_load` is the benchmark's phases on top of it.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Sample:
    """Latencies (milliseconds) and what came back."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_cpu_seconds: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    def cpu_ms_per_request(self) -> float:
        if self.server_cpu_seconds is None or not self.requests:
            return float("nan")
        return self.server_cpu_seconds * 1000 / self.requests

    def summary(self) -> dict[str, float | int | dict[str, int] | None]:
        return {
            "requests": self.requests,
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else None,
            "p50_ms": round(percentile(self.latencies_ms, 0.50), 3),
            "p95_ms": round(percentile(self.latencies_ms, 0.95), 3),
            "p99_ms": round(percentile(self.latencies_ms, 0.99), 3),
            "server_cpu_ms_per_request": (
                round(self.cpu_ms_per_request(), 3) if self.server_cpu_seconds is not None else None
            ),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "sources": dict(self.sources),
        }


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def children_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


@dataclass(frozen=True, slots=True)
class Planned:
    """A request to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request sent and what came back: status 0 when no answer came (the connection
    failed or timed out). `measured` is False for the warm-up's exchanges."""

    n: int
    request: Planned
    status: int
    headers: dict[str, str]
    content: bytes
    latency_ms: float
    measured: bool


@dataclass
class Drive:
    """What a closed-loop run sent and got, and the measured period's length and CPU."""

    exchanges: list[Exchange]
    seconds: float
    server_cpu_seconds: float | None


def drive(
    *,
    port: int,
    plan: Callable[[int], Planned],
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    server_pid: int | None = None,
) -> Drive:
    """Closed-loop requests plan(0), plan(1), … by `concurrency` threads, each sending its
    next request when the previous one is answered, for `warmup` + `duration` seconds."""
    exchanges: list[Exchange] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    start_measuring = time.monotonic() + warmup
    stop = start_measuring + duration

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            now = time.monotonic()
            if now >= stop:
                break
            with lock:
                n = next(counter)
            request = plan(n)
            started = time.perf_counter()
            try:
                connection.request(
                    request.method, request.path, body=request.body, headers=request.headers
                )
                response = connection.getresponse()
                content = response.read()
                status, headers = response.status, dict(response.getheaders())
                will_close = response.will_close
            except (OSError, http.client.HTTPException):
                status, headers, content, will_close = 0, {}, b"", True
            elapsed_ms = (time.perf_counter() - started) * 1000
            if will_close:
                connection.close()
            exchange = Exchange(
                n, request, status, headers, content, elapsed_ms, measured=now >= start_measuring
            )
            with lock:
                exchanges.append(exchange)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_measuring - time.monotonic()))
    workers = children_of(server_pid) if server_pid else []
    cpu_before = sum(process_cpu_seconds(pid) for pid in workers)
    measured_from = time.monotonic()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - measured_from
    cpu = sum(process_cpu_seconds(pid) for pid in workers) - cpu_before if workers else None
    return Drive(exchanges, seconds, cpu)


def run_load(
    *,
    port: int,
    path: str,
    body: Callable[[int], bytes],
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    warmup: float,
    server_pid: int | None = None,
) -> Sample:
    """Closed-loop POSTs of body(n) to path; measure after `warmup` seconds for `duration`."""
    driven = drive(
        port=port,
        plan=lambda n: Planned("POST", path, headers, body(n)),
        concurrency=concurrency,
        duration=duration,
        warmup=warmup,
        server_pid=server_pid,
    )
    sample = Sample(seconds=driven.seconds, server_cpu_seconds=driven.server_cpu_seconds)
    for exchange in driven.exchanges:
        if not exchange.measured:
            continue
        sample.latencies_ms.append(exchange.latency_ms)
        sample.statuses[exchange.status] += 1
        if exchange.status == 200 and b'"source"' in exchange.content:
            source = json.loads(exchange.content).get("source")
            if source:
                sample.sources[source] += 1
    return sample
