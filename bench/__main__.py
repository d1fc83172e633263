"""`python -m bench` (make bench): the score path's cost next to its floors, in one run.

Provisions the same local stack as the tests (devstack: Postgres, a moto DynamoDB server),
seeds a bench database, serves the app with gunicorn on loopback, and measures:

1. framework floor   a bare DRF view (bench/urls.py) served the same way
2. I/O floor         the cached request's unavoidable I/O (a BatchGetItem with our boto3
                     client, then the audit INSERT through Django's connection; the
                     counter's UpdateItem is made once a block, not once a request), in a
                     loop, no view
3. score, cache hit / cache miss   through gunicorn under a bounded (closed-loop) load
4. batch of 100      POST /api/v1/scores/batch of 100 cached CPFs, the same way
5. cold start        fresh process to first 200 through the Lambda handler, from the
                     package, median of 5, init and first invocation apart, and the
                     process CPU of a warm invocation: ours beside the seed's service
                     (bench/anchor: FastAPI + Mangum, one GetItem), and a bare Django
                     project's cold start; import-time top 10
6. round trips       database round trips and DynamoDB requests of one cached request, and
                     of one batch of 100 cached CPFs

Prints a table and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import Sample, percentile, run_load
from devstack.__main__ import LOCAL_AWS, TEST_ENVIRONMENT
from devstack.lambda_invoke import rest_api_event
from devstack.services import AppServer, ensure_database, moto_server, postgres

RESULTS = Path(__file__).resolve().parent / "results"
CACHE_TABLE = "bench-scores"
CACHED_POOL = 200  # CPFs scored once before the cache-hit phase
BATCH_SIZE = 100
# The bench key's limits: high enough that no phase is ever refused.
UNLIMITED = 10**9


def stack_environment(database_url: str, dynamodb_url: str) -> dict[str, str]:
    """Production settings (DEBUG off), bench URL conf, local stores."""
    return {
        **LOCAL_AWS,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_IGNORE_DOT_ENV": "true",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": TEST_ENVIRONMENT["DJANGO_SECRET_KEY"],
        "CPF_HASH_KEY": TEST_ENVIRONMENT["CPF_HASH_KEY"],
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,.execute-api.sa-east-1.amazonaws.com",
        "DATABASE_URL": database_url,
        "DYNAMODB_ENDPOINT_URL": dynamodb_url,
        "SCORE_CACHE_TABLE": CACHE_TABLE,
    }


def setup_django(environment: dict[str, str], profiles: int) -> tuple[str, list[str]]:
    """Migrate, create the cache table, seed; return an API key and the seeded CPFs."""
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.constants import Scope
    from accounts.models import Organization
    from accounts.services import api_key_issue
    from scores.management.commands.seed_demo import demo_profiles_csv, demo_profiles_import

    call_command("migrate", verbosity=0)
    call_command("ensure_score_table", stdout=io.StringIO())
    organization, _ = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Benchmark"}
    )
    _, key = api_key_issue(
        organization=organization,
        name="bench",
        scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH],
        rate_limit_per_minute=UNLIMITED,
        daily_quota=UNLIMITED,
    )
    data = demo_profiles_csv(profiles)
    demo_profiles_import(data)
    data.seek(0)
    cpfs = [row["cpf"] for row in csv.DictReader(data)]
    return key, cpfs


def score_body(cpf: str) -> bytes:
    return json.dumps({"cpf": cpf}).encode()


def batch_body(cpfs: list[str], n: int) -> bytes:
    """The n-th batch: BATCH_SIZE consecutive CPFs of `cpfs`, wrapping around."""
    start = (n * BATCH_SIZE) % len(cpfs)
    return json.dumps({"cpfs": (cpfs[start:] + cpfs[:start])[:BATCH_SIZE]}).encode()


def io_floor(cpf_hashes: list[str], *, seconds: float, concurrency: int) -> Sample:
    """A cached request's unavoidable I/O without the view, by `concurrency` threads like
    the load phases. For one CPF hash, what a single score of a busy key does: one
    BatchGetItem (the score's item and the cache's generation) through the application's
    own boto3 client (scoreportal.aws_clients), on a pool thread as the request makes it,
    then one audit INSERT through Django's connection handling (a persistent connection,
    health-checked at the start of each request as Django does). The counter's UpdateItem
    is left out: a busy key's requests are served from a lease, one UpdateItem a block
    (about a second of the key's traffic). For many, what a batch does: a BatchGetItem per
    99 hashes, and one INSERT of a row per hash."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import close_old_connections, connection

    from scoreportal import aws_clients

    columns = (
        '"occurred_at", "request_id", "organization_id", "api_key_id", "api_key_prefix",'
        ' "client_ip", "endpoint", "purpose", "cpf_hash", "cpf_masked", "outcome",'
        ' "http_status", "score", "band", "model_version", "source", "latency_ms"'
    )
    row = (
        "(now(), %s, NULL, NULL, 'bench', '127.0.0.1', 'scores', 'credit_analysis', %s,"
        " '***.000.000-**', 'scored', 200, 700, 'good', '2026.1', 'cache', 1)"
    )
    # Constant text: the values are placeholders.
    values = ", ".join([row] * len(cpf_hashes))
    insert = f'INSERT INTO "scores_consultation" ({columns}) VALUES {values} RETURNING id'  # noqa: S608
    client = aws_clients.dynamodb()
    cache_reader = ThreadPoolExecutor(max_workers=concurrency)
    sample = Sample()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def read_cache() -> object:
        # As score_cache.read: 99 scores a BatchGetItem, the cache's generation in each.
        for start in range(0, len(cpf_hashes), 99):
            keys = [{"pk": {"S": h}} for h in [*cpf_hashes[start : start + 99], "__generation__"]]
            client.batch_get_item(RequestItems={CACHE_TABLE: {"Keys": keys}})
        return None

    def worker(number: int) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            close_old_connections()  # what Django does when a request starts
            cache_reader.submit(read_cache).result()
            request_id = str(uuid.uuid4())
            with connection.cursor() as cursor:
                cursor.execute(insert, [v for h in cpf_hashes for v in (request_id, h)])
                cursor.fetchall()
            with lock:
                sample.latencies_ms.append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache_reader.shutdown()
    sample.seconds = seconds
    return sample


def round_trips(key: str, path: str, body: bytes) -> dict[str, Any]:
    """Database round trips and DynamoDB requests of one cached request, warm key.

    Django's query log records statements and, outside tests, the BEGIN and COMMIT of its
    transactions; the connection health check (a SELECT 1 on a reused connection) is
    counted by wrapping the connection's `is_usable`.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from scoreportal import aws_clients

    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"Authorization": f"Api-Key {key}"}
    # Warm: the key's first request is counted alone, its second takes a block (a lease of
    # about a second of its traffic); the measured one is served from that block.
    for _ in range(3):
        client.post(path, body, content_type="application/json", headers=headers)
    health_checks = 0
    is_usable = connection.is_usable

    def counted_is_usable() -> bool:
        nonlocal health_checks
        health_checks += 1
        return is_usable()

    connection.is_usable = counted_is_usable  # type: ignore[method-assign]
    # What a server does between requests (the test client skips it).
    connection.close_if_unusable_or_obsolete()
    with (
        aws_clients.sent_requests(aws_clients.dynamodb()) as sent,
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.post(path, body, content_type="application/json", headers=headers)
    del connection.is_usable
    answer = response.json()
    sources = {item.get("source") for item in answer.get("results", [answer])}
    assert sources == {"cache"}, response.content
    logged = [query["sql"] for query in queries.captured_queries]
    transaction_control = sum(sql in ("BEGIN", "COMMIT", "ROLLBACK") for sql in logged)
    return {
        "sql_statements": len(logged) - transaction_control,
        "transaction_control": transaction_control,
        "health_checks": health_checks,
        "database_round_trips": len(logged) + health_checks,
        "dynamodb_calls": len(sent),
        "dynamodb_operations": dict(sorted(Counter(sent).items())),
    }


def cold_starts(environment: dict[str, str], key: str, cpf: str, work: Path) -> dict[str, Any]:
    """Ours, the seed's anchor and bare Django through their Lambda handlers, from their
    packages: cold starts (init and first invocation apart), and the process CPU of a warm
    invocation, ours and the seed's alternately (rounds), the median of the rounds."""
    import statistics

    import boto3

    from bench.cold_start import (
        build_anchor,
        build_bare_project,
        import_breakdown,
        measure,
        warm_cpu_ms,
    )
    from devstack.lambda_package import PROJECT, build_package

    secret_id = f"scoreportal/bench-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "secretsmanager", region_name="sa-east-1", endpoint_url=environment["DYNAMODB_ENDPOINT_URL"]
    ).create_secret(
        Name=secret_id,
        SecretString=json.dumps(
            {
                name: environment[name]
                for name in ("DJANGO_SECRET_KEY", "CPF_HASH_KEY", "DATABASE_URL")
            }
        ),
    )
    stage = json.loads((PROJECT / "zappa_settings.json").read_text())["dev"]
    lambda_environment = {
        **LOCAL_AWS,
        "LAMBDA_TASK_ROOT": "/var/task",
        **stage["aws_environment_variables"],
        "SCOREPORTAL_SECRET_ID": secret_id,
        "SCORE_CACHE_TABLE": CACHE_TABLE,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": environment["DYNAMODB_ENDPOINT_URL"],
        "DYNAMODB_ENDPOINT_URL": environment["DYNAMODB_ENDPOINT_URL"],
    }
    ours_event = rest_api_event(
        "POST",
        "/api/v1/scores",
        body=score_body(cpf).decode(),
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {key}"},
    )
    ours_package = build_package("dev", work / "scoreportal-dev.zip", work_dir=work / "ours-build")
    (work / "ours").mkdir()
    ours = measure(ours_package, lambda_environment, [ours_event], work / "ours")
    breakdown = import_breakdown(ours_package, lambda_environment, [ours_event], work / "ours")

    # The seed's service reads the same cached item from the same table and endpoint.
    (work / "anchor").mkdir()
    anchor_package = build_anchor(work / "anchor")
    anchor_environment = {
        **LOCAL_AWS,
        "LAMBDA_TASK_ROOT": "/var/task",
        "SCORE_CACHE_TABLE": CACHE_TABLE,
        "CPF_HASH_KEY": environment["CPF_HASH_KEY"],
        "DYNAMODB_ENDPOINT_URL": environment["DYNAMODB_ENDPOINT_URL"],
    }
    anchor_event = rest_api_event(
        "POST",
        "/api/v1/scores",
        body=score_body("".join(c for c in cpf if c.isdigit())).decode(),
        headers={"Content-Type": "application/json"},
    )
    (work / "anchor-run").mkdir()
    anchor = measure(anchor_package, anchor_environment, [anchor_event], work / "anchor-run")

    bare_package = build_bare_project(work / "bare")
    bare_environment = {**LOCAL_AWS, "INSTANTIATE_LAMBDA_HANDLER_ON_IMPORT": "true"}
    bare_events = [rest_api_event("GET", "/admin/login/")]
    (work / "bare-run").mkdir()
    bare = measure(bare_package, bare_environment, bare_events, work / "bare-run")

    # The machine is shared: ours and the seed's alternate, and each keeps its median round.
    rounds: dict[str, list[float]] = {"ours": [], "seed": []}
    for _ in range(3):
        rounds["ours"].append(
            warm_cpu_ms(work / "ours" / "unzipped", lambda_environment, ours_event, work / "ours")
        )
        rounds["seed"].append(
            warm_cpu_ms(
                work / "anchor-run" / "unzipped", anchor_environment, anchor_event, work / "anchor"
            )
        )
    cpu = {name: statistics.median(values) for name, values in rounds.items()}
    return {
        "ours_first_score": ours.summary(),
        "seed_anchor_first_score": anchor.summary(),
        "bare_django_first_admin_login": bare.summary(),
        "ratio": round(ours.median_seconds / bare.median_seconds, 2),
        "ours_over_seed": {
            "cold_start": round(ours.median_seconds / anchor.median_seconds, 2),
            "first_invocation": round(
                ours.first_invocation_median_seconds / anchor.first_invocation_median_seconds, 2
            ),
            "cpu_per_warm_invocation": round(cpu["ours"] / cpu["seed"], 2),
        },
        "cpu_ms_per_warm_invocation": {
            "ours": round(cpu["ours"], 2),
            "seed": round(cpu["seed"], 2),
            "rounds_ms": {name: [round(v, 2) for v in values] for name, values in rounds.items()},
        },
        "import_time_top10": breakdown,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per load phase")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument(
        "--database",
        default="scoreportal_bench",
        help="the Postgres database to seed and use (a branch with other migrations: its own)",
    )
    parser.add_argument("--skip-cold-start", action="store_true")
    args = parser.parse_args(argv)

    with postgres() as base_url, moto_server() as dynamodb_url:
        database_url = base_url.rsplit("/", 1)[0] + "/" + args.database
        ensure_database(database_url)
        environment = stack_environment(database_url, dynamodb_url)
        print("bench: seeding …", flush=True)
        key, cpfs = setup_django(environment, args.profiles)
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {key}"}
        server = AppServer(environment, workers=args.workers, log_name="bench-gunicorn")
        server.wait_until_ready()
        load = {
            "port": server.port,
            "headers": headers,
            "concurrency": args.concurrency,
            "duration": args.duration,
            "warmup": args.warmup,
            "server_pid": server.process.pid,
        }
        try:
            print("bench: framework floor …", flush=True)
            floor = run_load(path="/bench/floor", body=lambda n: b'{"cpf": "52998224725"}', **load)
            cached = cpfs[:CACHED_POOL]
            for cpf in cached:  # compute and cache each once
                urllib.request.urlopen(
                    urllib.request.Request(
                        f"http://127.0.0.1:{server.port}/api/v1/scores",
                        data=score_body(cpf),
                        headers=headers,
                    )
                )
            print("bench: score, cache hit …", flush=True)
            hit = run_load(
                path="/api/v1/scores", body=lambda n: score_body(cached[n % CACHED_POOL]), **load
            )
            print("bench: batch of 100 cached …", flush=True)
            batch = run_load(
                path="/api/v1/scores/batch", body=lambda n: batch_body(cached, n), **load
            )
            fresh = cpfs[CACHED_POOL:]
            print("bench: score, cache miss …", flush=True)
            miss = run_load(
                path="/api/v1/scores", body=lambda n: score_body(fresh[n % len(fresh)]), **load
            )
        finally:
            server.stop()

        from django.conf import settings

        from scores.core.cpf import Cpf

        print("bench: I/O floors …", flush=True)
        hashes = [Cpf.parse(cpf).lookup_hash(settings.CPF_HASH_KEY) for cpf in cached]
        io = io_floor(hashes[:1], seconds=args.duration, concurrency=args.concurrency)
        batch_io = io_floor(
            hashes[:BATCH_SIZE], seconds=args.duration, concurrency=args.concurrency
        )
        trips = round_trips(key, "/api/v1/scores", score_body(cached[0]))
        batch_trips = round_trips(key, "/api/v1/scores/batch", batch_body(cached, 0))
        cold = None
        if not args.skip_cold_start:
            print("bench: cold start (building both packages) …", flush=True)
            with tempfile.TemporaryDirectory(prefix="scoreportal-bench-") as work:
                cold = cold_starts(environment, key, cached[1], Path(work))

    results = report(args, floor, io, hit, miss, batch_io, batch, trips, batch_trips, cold)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'latest.json'}")
    return 0


def report(
    args: argparse.Namespace,
    floor: Sample,
    io: Sample,
    hit: Sample,
    miss: Sample,
    batch_io: Sample,
    batch: Sample,
    trips: dict[str, Any],
    batch_trips: dict[str, Any],
    cold: dict[str, Any] | None,
) -> dict[str, Any]:
    rows = {
        "framework floor": floor.summary(),
        "I/O floor (no view)": io.summary(),
        "score, cache hit": hit.summary(),
        "score, cache miss": miss.summary(),
        "batch I/O floor (no view)": batch_io.summary(),
        "batch of 100, cached": batch.summary(),
    }
    print(
        f"\n{'scenario':26} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'CPU ms/req':>11}"
    )
    for name, row in rows.items():
        cpu = row["server_cpu_ms_per_request"]
        print(
            f"{name:26} {row['throughput_rps'] or '':>8} {row['p50_ms']:>8} {row['p95_ms']:>8}"
            f" {row['p99_ms']:>8} {cpu if cpu is not None else '-':>11}"
        )
    for name, measured in (("a cached request", trips), ("a batch of 100 cached", batch_trips)):
        operations = ", ".join(f"{n} {op}" for op, n in measured["dynamodb_operations"].items())
        print(
            f"\nround trips of {name} (warm key): {measured['database_round_trips']} to the"
            f" database ({measured['sql_statements']} SQL statement,"
            f" {measured['health_checks']} health check, {measured['transaction_control']}"
            f" BEGIN/COMMIT), {measured['dynamodb_calls']} to DynamoDB ({operations})",
            end="",
        )
    print()
    cpu_ratio = hit.cpu_ms_per_request() / floor.cpu_ms_per_request()
    print(f"cached request's server CPU: {cpu_ratio:.2f}x the framework floor's")
    latency_ratio = percentile(hit.latencies_ms, 0.5) / percentile(io.latencies_ms, 0.5)
    batch_ratio = percentile(batch.latencies_ms, 0.5) / percentile(hit.latencies_ms, 0.5)
    batch_floor_ratio = percentile(batch.latencies_ms, 0.5) / percentile(batch_io.latencies_ms, 0.5)
    print(
        f"batch of 100 cached p50: {batch_floor_ratio:.2f}x its I/O floor's"
        f" (moto's BatchGetItem of 100 items dominates that floor: bench/README.md)"
    )
    batch_reads = batch_trips["dynamodb_operations"].get("BatchGetItem", 0)
    targets = {
        "cached p50 <= 1.5x I/O floor p50": (round(latency_ratio, 2), latency_ratio <= 1.5),
        "cached request: 1 SQL statement": (
            trips["sql_statements"],
            trips["sql_statements"] == 1,
        ),
        "cached request (warm key, from its lease): 1 DynamoDB call": (
            trips["dynamodb_calls"],
            trips["dynamodb_calls"] == 1,
        ),
        "batch of 100 cached p50 <= 3x cached p50": (round(batch_ratio, 2), batch_ratio <= 3),
        "batch of 100 cached: 1 SQL statement": (
            batch_trips["sql_statements"],
            batch_trips["sql_statements"] == 1,
        ),
        "batch of 100 cached: <= 2 BatchGetItem (+ 1 UpdateItem a block)": (
            batch_trips["dynamodb_calls"],
            batch_reads <= 2 and batch_trips["dynamodb_calls"] <= batch_reads + 1,
        ),
    }
    if cold:
        ours = cold["ours_first_score"]["median_s"]
        bare = cold["bare_django_first_admin_login"]["median_s"]
        print_beside_the_seed(cold)
        print(
            f"\ncold start, fresh process -> first 200 (median of 5): ours {ours:.3f} s "
            f"(first score), bare Django {bare:.3f} s (admin login page), ratio {cold['ratio']}"
        )
        print(
            "import time by top-level package (self ms): "
            + ", ".join(f"{row['package']} {row['self_ms']}" for row in cold["import_time_top10"])
        )
        targets["cold start <= 1.5x bare Django"] = (cold["ratio"], cold["ratio"] <= 1.5)
        targets["cold start < 0.5 s"] = (ours, ours < 0.5)
        over_seed = cold["ours_over_seed"]
        targets["first invocation <= 2x the seed's (ours/seed's)"] = (
            over_seed["first_invocation"],
            over_seed["first_invocation"] <= 2,
        )
        # What Django, DRF and the audit cost beside the seed's bare handler (bench/README.md).
        targets["process CPU per warm invocation <= 2.0x the seed's (ours/seed's)"] = (
            over_seed["cpu_per_warm_invocation"],
            over_seed["cpu_per_warm_invocation"] <= 2.0,
        )
        zipped = cold["ours_first_score"]["package_zipped_mib"]
        targets["package <= 30 MiB zipped"] = (zipped, zipped <= 30)
    print("\ntargets:")
    for name, (value, met) in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {name}: {value}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "gunicorn_workers": args.workers,
        },
        "scenarios": rows,
        "round_trips_cached_request": trips,
        "round_trips_batch_of_100_cached": batch_trips,
        "cold_start": cold,
        "targets": {name: {"value": value, "met": met} for name, (value, met) in targets.items()},
    }


def print_beside_the_seed(cold: dict[str, Any]) -> None:
    """Ours beside the seed's service (FastAPI + Mangum, one GetItem), through the same
    handler invocation, and ours/seed's."""
    ours, seed = cold["ours_first_score"], cold["seed_anchor_first_score"]
    cpu = cold["cpu_ms_per_warm_invocation"]
    rows = [
        ("cold start, spawn -> first 200 (median of 5)", ours["median_s"], seed["median_s"], "s"),
        ("  init (the handler imported)", ours["init_median_s"], seed["init_median_s"], "s"),
        (
            "  first invocation",
            ours["first_invocation_median_s"],
            seed["first_invocation_median_s"],
            "s",
        ),
        ("process CPU per warm invocation", cpu["ours"], cpu["seed"], "ms"),
        ("package, zipped", ours["package_zipped_mib"], seed["package_zipped_mib"], "MiB"),
        ("package, unzipped", ours["package_unzipped_mib"], seed["package_unzipped_mib"], "MiB"),
    ]
    print(f"\n{'through the Lambda handler':46} {'ours':>10} {'seed':>10} {'ours/seed':>10}")
    for name, mine, theirs, unit in rows:
        print(f"{name:46} {mine:>7} {unit:<3}{theirs:>7} {unit:<3}{mine / theirs:>9.2f}x")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
