"""`python -m bench.imports` (make bench-import): a large profile import from the command line.

Provisions the same local stack as the tests (devstack: Postgres, a moto DynamoDB server),
in a database of its own (`--database`, emptied of profiles first), writes a CSV of `--rows`
valid profiles (1,000,000 by default) and a second one with every profile changed, and runs
`manage.py import_profiles` on each in a process of its own:

    new       every row creates a profile
    changed   every row changes a profile: one outbox row each, drained into a tombstone
              each (BatchWriteItem, 25 a call) after each chunk commits

For each: wall time, rows per second, and the importing process's peak RSS (the kernel's
high-water mark, from wait4's rusage). Prints a table and writes
bench/results/import-latest.json. Not part of `make test`.

`--phases hostile` instead gives import_profiles files no profile file is, which it must
refuse: a header of 40,000 columns, a header line of 100 MiB, and a 100 MiB line after a
valid row. For each: the time and peak RSS until the refusal (a run past `--timeout` is
stopped and reported as such), and the refusal's message.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import stack_environment
from devstack.services import ensure_database, moto_server, postgres

RESULTS = Path(__file__).resolve().parent / "results"
PROJECT = Path(__file__).resolve().parent.parent
# Two profiles per row pattern: what differs between the two files.
NEW_VALUES = ["0.9800", "0", "0", "0", "0", "0.2500", "1", "96", "3"]
CHANGED_VALUES = ["0.7200", "2", "45", "1", "0", "0.8500", "4", "20", "7"]


def write_csv(path: Path, rows: int, values: list[str]) -> None:
    """`rows` distinct valid CPFs (the bases from 100,000,000 up), each with `values`."""
    from scores.core.cpf import Cpf
    from scores.imports.profile_file import COLUMNS

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        base = 100_000_000
        written = 0
        while written < rows:
            try:
                cpf = Cpf.from_base(f"{base:09d}")
            except ValueError:  # a repeated-digit base
                base += 1
                continue
            writer.writerow([cpf.digits, *values])
            base += 1
            written += 1


def write_hostile_csvs(directory: Path) -> dict[str, Path]:
    """Files import_profiles must refuse: too wide a header, too long a line. Written a
    block at a time: the importing process's peak RSS counts this one's at its fork."""
    from scores.imports.profile_file import COLUMNS

    line_of_100_mib = [b"a," * (512 * 1024)] * 100  # short fields: csv's limit is per field
    files = {name: directory / f"{name}.csv" for name in ("wide", "long-header", "long-row")}
    files["wide"].write_text(
        ",".join(["cpf", *(f"c{n}" for n in range(40_000))]) + "\n52998224725\n"
    )
    with files["long-header"].open("wb") as file:
        file.writelines([*line_of_100_mib, b"\n52998224725\n"])
    with files["long-row"].open("wb") as file:
        file.write(f"{','.join(COLUMNS)}\n52998224725,{','.join(NEW_VALUES)}\n".encode())
        file.writelines([*line_of_100_mib, b"\n"])
    return files


def run_import(
    path: Path,
    environment: dict[str, str],
    chunk_size: int | None,
    *,
    refused: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run import_profiles on `path` in a process of its own: seconds, peak RSS, output
    (with `refused`, the command must fail, within `timeout` or be stopped)."""
    command = [sys.executable, "manage.py", "import_profiles", str(path), "--verbosity", "0"]
    if chunk_size:
        command += ["--chunk-size", str(chunk_size)]
    # Its output goes to files: a pipe nobody reads while it runs could stop it.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT, env={**os.environ, **environment}, stdout=out, stderr=err
        )
        stopped = False
        while True:
            # wait4 gives this child's own resource usage (ru_maxrss in KiB on Linux).
            pid, status, usage = os.wait4(process.pid, 0 if timeout is None else os.WNOHANG)
            if pid:
                break
            if not stopped and time.perf_counter() - started > (timeout or 0):
                process.kill()
                stopped = True
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    failed = process.returncode != 0
    if refused:  # reported as it went: a file taken in is what the table must show
        output = (
            f"stopped after {timeout:.0f} s"
            if stopped
            else (stderr if failed else f"NOT REFUSED: {stdout}").strip().splitlines()[-1]
        )
    elif failed:
        raise SystemExit(f"import_profiles failed:\n{stdout}\n{stderr[-5000:]}")
    else:
        output = stdout.strip()
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "output": output}


def hostile(environment: dict[str, str], timeout: float) -> int:
    """Time and peak RSS of import_profiles refusing each hostile file."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
        print("bench-import: writing the hostile files …", flush=True)
        for name, path in write_hostile_csvs(Path(directory)).items():
            print(f"bench-import: {name} …", flush=True)
            results[name] = run_import(path, environment, None, refused=True, timeout=timeout)
            results[name]["bytes"] = path.stat().st_size
    print()
    print(f"{'file':<13}{'MB':>8}{'seconds':>10}{'peak RSS':>12}  answer")
    for name, measured in results.items():
        print(
            f"{name:<13}{measured['bytes'] / 1e6:>8.1f}{measured['seconds']:>10.2f}"
            f"{measured['peak_rss_mb']:>9.0f} MB  {measured['output'][:150]}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import-hostile-latest.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "timeout": timeout,
                "files": results,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.imports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="scoreportal_importbench")
    parser.add_argument("--chunk-size", type=int, default=None, help="import_profiles' own")
    parser.add_argument(
        "--phases",
        default="new,changed",
        help="which imports to run, in order (new,changed), or hostile (files to refuse)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120, help="hostile: stop a run after this long (s)"
    )
    args = parser.parse_args(argv)

    with postgres() as base_url, moto_server() as dynamodb_url:
        database_url = base_url.rsplit("/", 1)[0] + "/" + args.database
        ensure_database(database_url)
        environment = stack_environment(database_url, dynamodb_url)
        os.environ.update(environment)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("ensure_score_table", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE scores_creditprofile, scores_pendinginvalidation")
        connection.close()
        if args.phases == "hostile":
            return hostile(environment, args.timeout)

        results: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
            values = {"new": NEW_VALUES, "changed": CHANGED_VALUES}
            phases = args.phases.split(",")
            files = {phase: Path(directory) / f"{phase}.csv" for phase in phases}
            print(f"bench-import: writing {len(files)} file(s) of {args.rows:,} rows …", flush=True)
            for phase, path in files.items():
                write_csv(path, args.rows, values[phase])
            for phase, path in files.items():
                print(f"bench-import: {phase} …", flush=True)
                measured = run_import(path, environment, args.chunk_size)
                measured["rows_per_second"] = args.rows / measured["seconds"]
                results[phase] = measured
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM scores_pendinginvalidation")
            (pending,) = cursor.fetchone()
            cursor.execute("SHOW server_version")
            (server_version,) = cursor.fetchone()

    print()
    print(f"import_profiles, {args.rows:,} rows (Postgres {server_version}, local DynamoDB)")
    print(f"{'phase':<10}{'seconds':>10}{'rows/s':>12}{'peak RSS':>12}")
    for phase, measured in results.items():
        print(
            f"{phase:<10}{measured['seconds']:>10.1f}{measured['rows_per_second']:>12,.0f}"
            f"{measured['peak_rss_mb']:>9.0f} MB"
        )
        print(f"          {measured['output']}")
    print(f"invalidations left pending: {pending}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import-latest.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "rows": args.rows,
                "chunk_size": args.chunk_size,
                "postgres": server_version,
                "phases": results,
                "pending_after": pending,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if pending == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
