"""A small closed-loop HTTP load generator and the statistics the benchmark reports.

Each of `concurrency` threads sends a request, waits for the answer, and sends the next,
for `duration` seconds after a warm-up: a bounded load, so latency is service time rather
than queueing. Server CPU is read from /proc for the gunicorn workers, so the client's own
CPU use does not count.
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
    sample = Sample()
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
            started = time.perf_counter()
            connection.request("POST", path, body=body(n), headers=headers)
            response = connection.getresponse()
            content = response.read()
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response.will_close:
                connection.close()
            if now < start_measuring:
                continue
            source = None
            if response.status == 200 and b'"source"' in content:
                source = json.loads(content).get("source")
            with lock:
                sample.latencies_ms.append(elapsed_ms)
                sample.statuses[response.status] += 1
                if source:
                    sample.sources[source] += 1
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
    sample.seconds = time.monotonic() - measured_from
    if workers:
        sample.server_cpu_seconds = sum(process_cpu_seconds(pid) for pid in workers) - cpu_before
    return sample
