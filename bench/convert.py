"""`python -m bench.convert` (make bench-convert): an unpartitioned audit trail converted
while the service writes.

1. In a database of its own (`--database`, default scoreportal_convertbench) on the
   Postgres that `make test` uses: migrates, goes back to the schema before the
   partitioning (scores 0015: the trail is one table, as on a stage deployed before it),
   loads `--rows` synthetic audit rows (manage.py generate_audit_rows, COPY, every index in
   place) and VACUUM ANALYZEs the table, as autovacuum would. A later run finds the rows
   there and loads only what is missing.
2. Starts a writer: `--writer-connections` threads inserting audit rows through the model,
   one row a transaction as a score request does, `--writer-rate` rows a second in all.
3. With the writer running: `manage.py migrate` (scores 0016 renames the trail and creates
   the partitioned one), then `manage.py convert_audit_trail`, each in a process of its own
   (production settings): wall time, and the conversion's peak RSS (its VmHWM).
4. Stops the writer, and counts: the trail must hold the old rows plus every row the writer
   committed, each once, and the old table must be gone.
5. Drops the database (`--keep` to leave it).

Writes bench/results/convert-latest.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audit import DATA_END, DATA_SPAN, environment_for
from devstack.services import ensure_database, moto_server, postgres

RESULTS = Path(__file__).resolve().parent / "results"
PROJECT = Path(__file__).resolve().parent.parent
BEFORE_PARTITIONS = ("scores", "0015_import_seen_cpfs_scratch")
# The writer's rows carry this model version, so they can be counted apart.
WRITER_MARK = "convert-bench"


def migrate_to(target: tuple[str, str] | None) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def trail_state() -> tuple[str, int]:
    """'unpartitioned' (one table), 'converting' or 'partitioned'; the rows in the trail."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relkind, to_regclass('scores_consultation_unpartitioned') IS NOT NULL"
            " FROM pg_class WHERE oid = 'scores_consultation'::regclass"
        )
        relkind, pending = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM scores_consultation")
        (rows,) = cursor.fetchone()
    if relkind == "r":
        return "unpartitioned", rows
    return ("converting" if pending else "partitioned"), rows


def load(rows: int) -> dict[str, Any]:
    """The trail as one table of at least `rows` rows; what it took."""
    from django.core.management import call_command
    from django.db import connection

    migrate_to(None)
    state, present = trail_state()
    if state != "unpartitioned":
        if present:
            raise SystemExit(
                f"bench.convert: the trail is {state} and holds {present:,} rows: a previous "
                "run converted it. Drop the database (dropdb) and run again."
            )
        migrate_to(BEFORE_PARTITIONS)
        state, present = trail_state()
    loaded: dict[str, Any] = {"rows_present": present}
    if present < rows:
        print(f"bench.convert: loading {rows - present:,} rows (COPY) …", flush=True)
        started = time.monotonic()
        call_command(
            "generate_audit_rows",
            str(rows - present),
            "--end",
            DATA_END,
            "--days",
            str(DATA_SPAN.days),
            "--force",
            verbosity=1,
        )
        loaded["load_seconds"] = round(time.monotonic() - started, 1)
        print("bench.convert: VACUUM ANALYZE …", flush=True)
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) scores_consultation")
        loaded["vacuum_seconds"] = round(time.monotonic() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('scores_consultation')")
        (size,) = cursor.fetchone()
    loaded["total_mb"] = round(size / 1024 / 1024)
    connection.close()
    return loaded


class Writer:
    """Audit rows at a steady rate from several connections, one row a transaction, as the
    score path writes them; each insert's latency and when it committed."""

    def __init__(self, rate: float, connections: int) -> None:
        self.interval = connections / rate
        self.connections = connections
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.inserts: list[tuple[float, float]] = []  # (committed at, seconds)
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self.run, name=f"writer-{n}", daemon=True)
            for n in range(connections)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def run(self) -> None:
        from django.db import connection

        from scores.models import Consultation

        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                Consultation.objects.create(
                    request_id=uuid.uuid4(),
                    endpoint="score",
                    outcome="invalid_cpf",
                    http_status=400,
                    model_version=WRITER_MARK,
                    latency_ms=3,
                )
            except Exception as error:  # counted and reported: a failed write is the finding
                with self.lock:
                    self.errors.append(f"{type(error).__name__}: {error}"[:300])
                connection.close()
            else:
                ended = time.monotonic()
                with self.lock:
                    self.inserts.append((ended, ended - started))
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))
        connection.close()

    def between(self, start: float, end: float) -> dict[str, Any]:
        with self.lock:
            latencies = [seconds * 1000 for at, seconds in self.inserts if start <= at < end]
        if not latencies:
            return {"rows": 0}
        latencies.sort()
        return {
            "rows": len(latencies),
            "rows_per_second": round(len(latencies) / max(end - start, 1e-9), 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "max_ms": round(latencies[-1], 1),
        }


def run_command(arguments: list[str], environment: dict[str, str]) -> dict[str, Any]:
    """manage.py in a process of its own: wall time, its peak RSS, its output.

    The peak is the child's VmHWM, read from /proc while it runs (from its exec on: until
    then it is this process's), not wait4's ru_maxrss, which counts this process's memory
    at the fork (all of it, after a load of millions of rows here)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "manage.py", *arguments],
            cwd=PROJECT,
            env={**os.environ, **environment},
            stdout=out,
            stderr=err,
        )
        peak_kb = 0
        while True:
            pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _peak_kb(process.pid))
            time.sleep(0.05)
        ended = time.monotonic()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{stdout}\n{stderr[-5000:]}")
    return {
        "started": started,
        "ended": ended,
        "seconds": round(ended - started, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "output": stdout.strip(),
    }


def _peak_kb(pid: int) -> int:
    """The process's VmHWM once it runs manage.py (0 before its exec, or once it is gone)."""
    try:
        if b"manage.py" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return 0
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE model_version = %s),"
            " to_regclass('scores_consultation_unpartitioned') IS NOT NULL,"
            " (SELECT count(*) FROM pg_inherits WHERE inhparent = 'scores_consultation'::regclass)"
            " FROM scores_consultation",
            [WRITER_MARK],
        )
        rows, distinct, written, pending, partitions = cursor.fetchone()
    return {
        "rows": rows,
        "distinct_ids": distinct,
        "writer_rows": written,
        "old_table_left": int(pending),
        "partitions": partitions,
    }


def drop(database_url: str) -> None:
    import psycopg2
    from django.db import connections

    connections.close_all()
    base, name = database_url.rsplit("/", 1)
    connection = psycopg2.connect(f"{base}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database", default="scoreportal_convertbench")
    parser.add_argument("--batch-size", type=int, default=10_000, help="convert_audit_trail's")
    parser.add_argument("--writer-rate", type=float, default=50, help="rows a second, in all")
    parser.add_argument("--writer-connections", type=int, default=4)
    parser.add_argument("--settle", type=float, default=10, help="writer alone before, after (s)")
    parser.add_argument("--keep", action="store_true", help="leave the database when done")
    args = parser.parse_args(argv)

    with postgres() as base_url, moto_server() as dynamodb_url:
        database_url = base_url.rsplit("/", 1)[0] + "/" + args.database
        ensure_database(database_url)
        environment = environment_for(database_url, dynamodb_url)
        os.environ.update(environment)
        import django

        django.setup()
        from django.db import connection

        loaded = load(args.rows)
        _state, old_rows = trail_state()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            (server_version,) = cursor.fetchone()
        connection.close()
        print(f"bench.convert: {old_rows:,} rows in one table ({loaded['total_mb']:,} MB)")

        writer = Writer(args.writer_rate, args.writer_connections)
        writer.start()
        began = time.monotonic()
        time.sleep(args.settle)
        print("bench.convert: migrate (scores 0016 and what follows) …", flush=True)
        migrated = run_command(["migrate", "--verbosity", "0"], environment)
        print(f"  {migrated['seconds']} s", flush=True)
        print("bench.convert: convert_audit_trail …", flush=True)
        converted = run_command(
            ["convert_audit_trail", "--batch-size", str(args.batch_size)], environment
        )
        print(f"  {converted['seconds']} s, peak RSS {converted['peak_rss_mb']} MB", flush=True)
        time.sleep(args.settle)
        writer.stop()
        finished = time.monotonic()

        found = counts()
        committed = len(writer.inserts)
        copied = int(converted["output"].split("Copied ", 1)[1].split(" ", 1)[0].replace(",", ""))
        writer_phases = {
            "before": writer.between(began, migrated["started"]),
            "migrate": writer.between(migrated["started"], migrated["ended"]),
            "convert": writer.between(converted["started"], converted["ended"]),
            "after": writer.between(converted["ended"], finished),
        }
        lost = old_rows + committed - found["rows"]
        results = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_average": os.getloadavg(),
            },
            "postgres": server_version,
            "parameters": vars(args),
            "load": loaded,
            "old_rows": old_rows,
            "migrate": {k: v for k, v in migrated.items() if k not in ("started", "ended")},
            "convert": {
                **{k: v for k, v in converted.items() if k not in ("started", "ended")},
                "copied": copied,
                "rows_per_second": round(copied / converted["seconds"]),
            },
            "writer": {
                "committed": committed,
                "errors": len(writer.errors),
                "first_errors": writer.errors[:5],
                "phases": writer_phases,
            },
            "after": found,
            "lost": lost,
            "duplicated": found["rows"] - found["distinct_ids"],
            "ok": lost == 0
            and found["rows"] == found["distinct_ids"]
            and found["writer_rows"] == committed
            and not found["old_table_left"]
            and not writer.errors,
        }
        if not args.keep:
            print(f"bench.convert: dropping {args.database} …", flush=True)
            drop(database_url)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "convert-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("old_rows", "migrate", "convert")}, indent=2))
    print(json.dumps({k: results[k] for k in ("writer", "after", "lost", "duplicated")}, indent=2))
    print(f"\nevery row there once: {'yes' if results['ok'] else 'NO'}")
    print(f"written: {RESULTS / 'convert-latest.json'}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
