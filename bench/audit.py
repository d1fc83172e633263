"""`python -m bench.audit` (make bench-audit): the auditors' pages at ten million rows.

1. Loads `--rows` synthetic audit rows (manage.py generate_audit_rows, COPY) into a
   database of its own (`--database`, default scoreportal_auditbench) on the Postgres
   that `make test` uses, once: a later run finds them there. Then brings the usage
   summary up to date and VACUUM ANALYZEs the table, as autovacuum would.
2. Serves the app with gunicorn (production settings, DEBUG off) and, signed in as an
   Auditor, times each page warm: 2 requests to warm up, then the median (and min, max)
   of `--repeat` (5), client side, over loopback.
3. Exports about a million rows as CSV through the same server (the export's task, then
   its download), measuring rows per second and the gunicorn worker's peak RSS (VmHWM)
   against its RSS before. The file goes to the operations bucket on the local S3
   endpoint (moto), a multipart upload as on a stage, and is downloaded through the
   presigned link the download answers with; `--export-to media` writes it to MEDIA_ROOT
   instead, as on a laptop without a bucket.
4. Reports the table's and each index's size, and EXPLAIN (ANALYZE, BUFFERS) of every
   query each page sends to the audit table or the summary (captured by rendering the
   page in-process with Django's query capture).

Writes bench/results/audit-latest.json and bench/results/audit-latest.md (the table and
the plans, for docs/audit.md). The machine's Postgres keeps its own settings: nothing is
tuned for this.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import sys
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack.__main__ import LOCAL_AWS, TEST_ENVIRONMENT
from devstack.services import AppServer, ensure_database, moto_server, postgres

RESULTS = Path(__file__).resolve().parent / "results"
# The generated rows end here, so every run measures the same data.
DATA_END = "2026-11-22T12:00:00-03:00"
DATA_LAST_DAY = date(2026, 11, 22)
# Twelve monthly partitions' worth (the first and last months partly).
DATA_SPAN = timedelta(days=335)
BUDGET_MS = 300.0
HOT_CPF = "529.982.247-25"  # one of the CPFs generate_audit_rows consults most
EXPORT_ROWS = 1_000_000
BUCKET = "bench-audit-operations"


def environment_for(database_url: str, dynamodb_url: str) -> dict[str, str]:
    return {
        **LOCAL_AWS,
        "DJANGO_SETTINGS_MODULE": "scoreportal.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": TEST_ENVIRONMENT["DJANGO_SECRET_KEY"],
        "CPF_HASH_KEY": TEST_ENVIRONMENT["CPF_HASH_KEY"],
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": database_url,
        "DYNAMODB_ENDPOINT_URL": dynamodb_url,
        "SCORE_CACHE_TABLE": "bench-audit-scores",
    }


def load(rows: int) -> dict[str, Any]:
    """Add synthetic rows up to `rows`, summarize, vacuum; what it took."""
    from django.core.management import call_command
    from django.db import connection

    from audit.services.partitions import consultation_partitions_create
    from scores.models import Consultation

    call_command("migrate", verbosity=0)
    # Production settings serve the admin's static files from the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    present = Consultation.objects.count()
    loaded: dict[str, Any] = {"rows_present": present}
    if present < rows:
        print(
            f"bench.audit: loading {rows - present:,} rows (COPY; ~20 min for 10 M) …", flush=True
        )
        started = time.monotonic()
        # Twelve months of rows, each in its month's partition (made first: rows of no
        # month would land in the default partition).
        consultation_partitions_create(since=datetime.fromisoformat(DATA_END) - DATA_SPAN)
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
    print("bench.audit: usage summary …", flush=True)
    started = time.monotonic()
    call_command("summarize_usage")
    loaded["summarize_seconds"] = round(time.monotonic() - started, 1)
    print("bench.audit: VACUUM ANALYZE …", flush=True)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) scores_consultation")
        cursor.execute("VACUUM (ANALYZE) scores_dailyusage")
    loaded["vacuum_seconds"] = round(time.monotonic() - started, 1)
    loaded["rows"] = Consultation.objects.count()
    return loaded


def sizes() -> dict[str, Any]:
    """The audit table's heap, its TOAST, each index; megabytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Summed over the partitions (a partitioned table or index has no storage itself).
        cursor.execute(
            """
            SELECT c.relname, (SELECT sum(pg_relation_size(t.relid))
                               FROM pg_partition_tree(c.oid) t)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'scores_consultation'::regclass ORDER BY 2 DESC
            """
        )
        indexes = {name: int(size or 0) for name, size in cursor.fetchall()}
        cursor.execute(
            "SELECT sum(pg_relation_size(relid)), sum(pg_table_size(relid)),"
            " sum(pg_total_relation_size(relid)),"
            " (SELECT sum(greatest(c.reltuples, 0)) FROM pg_partition_tree('scores_consultation') t"
            "  JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf),"
            " count(*) FILTER (WHERE isleaf)"
            " FROM pg_partition_tree('scores_consultation')"
        )
        heap, table, total, tuples, partitions = cursor.fetchone()
        heap, table, total, tuples = int(heap), int(table), int(total), float(tuples)
    mb = 1024 * 1024
    return {
        "partitions": int(partitions),
        "rows_estimate": int(tuples),
        "heap_mb": round(heap / mb),
        "heap_bytes_per_row": round(heap / max(tuples, 1), 1),
        "table_with_toast_mb": round(table / mb),
        "indexes_mb": {name: round(size / mb) for name, size in indexes.items()},
        "indexes_total_mb": round(sum(indexes.values()) / mb),
        "total_mb": round(total / mb),
    }


class AuditorSession:
    """HTTP to the server as a signed-in Auditor (a session made directly: signing in is
    not what is measured)."""

    def __init__(self, port: int) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.contrib.sessions.backends.db import SessionStore
        from django.middleware.csrf import _get_new_csrf_string

        from accounts.staff import StaffRole

        user, _ = get_user_model().objects.get_or_create(
            username="bench-auditor", defaults={"is_staff": True}
        )
        user.groups.add(Group.objects.get(name=StaffRole.AUDITORS))
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        self.csrf = _get_new_csrf_string()
        self.cookie = f"sessionid={session.session_key}; csrftoken={self.csrf}"
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.last_location = ""

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, bytes, float]:
        headers = {"Cookie": self.cookie, "Host": "127.0.0.1"}
        encoded = None
        if body is not None:
            encoded = urllib.parse.urlencode({**body, "csrfmiddlewaretoken": self.csrf}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/"
        started = time.perf_counter()
        self.connection.request(method, path, body=encoded, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        self.last_location = response.getheader("Location") or ""
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, content, elapsed


Page = tuple[str, str, dict[str, str] | None, str]


def pages(admin: str) -> dict[str, Page]:
    """Each measured page: method, path, form body, and what its answer must contain (a
    page that finds nothing would be measured fast for the wrong reason)."""
    from django.db import connection

    from accounts.models import Organization
    from audit.order import Cursor

    busiest = Organization.objects.get(slug="generated-1")
    since = (DATA_LAST_DAY - timedelta(days=29)).isoformat()
    until = DATA_LAST_DAY.isoformat()
    with connection.cursor() as cursor:
        # Page 5,000 of 100 rows starts after the 499,900th row (a one-off OFFSET, here only).
        deep_sql = (
            "SELECT occurred_at, id FROM scores_consultation"
            " ORDER BY occurred_at DESC, id DESC OFFSET %s LIMIT 1"
        )
        cursor.execute(deep_sql, [499_899])
        found = cursor.fetchone()
        if found is None:  # fewer rows (a small --rows): halfway down instead
            cursor.execute("SELECT count(*) / 2 FROM scores_consultation")
            cursor.execute(deep_sql, [cursor.fetchone()[0]])
            found = cursor.fetchone()
        deep = Cursor(*found)
        cursor.execute(
            "SELECT request_id, id FROM scores_consultation WHERE id = "
            "(SELECT (min(id) + max(id)) / 2 FROM scores_consultation)"
        )
        request_id, middle_id = cursor.fetchone()
        cursor.execute(
            "SELECT api_key_id FROM scores_consultation WHERE organization_id = %s"
            " AND api_key_id IS NOT NULL ORDER BY occurred_at DESC LIMIT 1",
            [busiest.pk],
        )
        (busiest_key,) = cursor.fetchone()
    trail = f"/{admin}scores/consultation/"

    def query(**params: Any) -> str:
        return trail + "?" + urllib.parse.urlencode(params)

    rows = 'id="result_list"'
    hot = "***.982.247-**"
    return {
        "changelist, first page": ("GET", trail, None, rows),
        "organization + outcome + 30 days": (
            "GET",
            query(
                organization__id__exact=busiest.pk,
                outcome__exact="rate_limited",
                occurred_from=since,
                occurred_to=until,
            ),
            None,
            rows,
        ),
        "organization + scored + 30 days": (
            "GET",
            query(
                organization__id__exact=busiest.pk,
                outcome__exact="scored",
                occurred_from=since,
                occurred_to=until,
            ),
            None,
            rows,
        ),
        "key + rare outcome (quota)": (
            "GET",
            query(api_key__prefix__exact=busiest_key, outcome__exact="quota_exceeded"),
            None,
            rows,
        ),
        # The search box posts the CPF and lands on an address that holds none (a token):
        # the page measured is that one (time_pages follows the redirect once).
        "CPF search": ("POST", query(), {"_search": "1", "q": HOT_CPF}, hot),
        "request-id search": ("GET", query(q=str(request_id)), None, str(request_id)),
        "page 5,000 (keyset: 499,900 rows deep)": ("GET", query(before=str(deep)), None, rows),
        "one audited query": ("GET", f"{trail}{middle_id}/change/", None, str(request_id)),
        "usage report, 30 days": (
            "GET",
            f"/{admin}audit/usagereport/?since={since}&until={until}",
            None,
            'id="usage-by-key"',
        ),
        # PSI and CSI per week and month since the first summarized day: the summary only.
        "stability report": (
            "GET",
            f"/{admin}audit/stabilityreport/",
            None,
            'id="stability-weeks"',
        ),
        "report for a CPF, 6 months": (
            "POST",
            f"/{admin}audit/cpfreport/",
            {
                "cpf": HOT_CPF,
                "since": (DATA_LAST_DAY - timedelta(days=184)).isoformat(),
                "until": until,
                "output": "page",
                "reason": "Protocolo 2026-000123",  # the page asks why it is run
            },
            'id="cpf-report-consultations"',
        ),
    }


def time_pages(session: AuditorSession, measured: dict[str, Page], repeat: int) -> dict[str, Any]:
    results = {}
    for name, (method, path, body, expected) in measured.items():
        if method == "POST" and body and "_search" in body:
            status, _content, _elapsed = session.request(method, path, body)
            if status != 302:
                raise RuntimeError(f"{name}: HTTP {status} for the search's POST")
            method, path, body = "GET", session.last_location, None
        for _ in range(2):  # warm: templates, the connection, the pages in shared buffers
            status, content, _elapsed = session.request(method, path, body)
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status} for {path}")
            if expected.encode() not in content:
                raise RuntimeError(f"{name}: the answer lacks {expected!r}: nothing found?")
        timings = [session.request(method, path, body)[2] for _ in range(repeat)]
        results[name] = {
            "path": path,
            "median_ms": round(statistics.median(timings), 1),
            "min_ms": round(min(timings), 1),
            "max_ms": round(max(timings), 1),
            "within_budget": statistics.median(timings) < BUDGET_MS,
        }
        print(f"  {name:42} {results[name]['median_ms']:>8.1f} ms", flush=True)
    return results


def export(session: AuditorSession, admin: str, worker_pid: int, trail_rows: int) -> dict[str, Any]:
    """About EXPORT_ROWS rows as CSV through the export's task, then its download: rows per
    second, the steps, and the worker's memory."""
    from django.db import connection
    from django.utils import timezone

    path = f"/{admin}scores/consultation/export/"
    if trail_rows > EXPORT_ROWS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT occurred_at FROM scores_consultation"
                " ORDER BY occurred_at DESC, id DESC OFFSET %s LIMIT 1",
                [EXPORT_ROWS - 1],
            )
            (oldest,) = cursor.fetchone()
        since = timezone.localtime(oldest).date() + timedelta(days=1)
        path += f"?occurred_from={since.isoformat()}"
    # else the whole trail: a trail of a million rows is the million.
    before = _memory(worker_pid)
    # The page's button posts; off Lambda the task's steps run in the request, one after
    # the other, so the answer (a redirect to the export's page) comes when the file is
    # written (to the operations bucket, or MEDIA_ROOT with --export-to media).
    status, _content, elapsed = session.request("POST", path, {})
    after = _memory(worker_pid)
    if status != 302:
        raise RuntimeError(f"export: HTTP {status}")
    from audit.models import AuditExportDownload, AuditExportFile

    file = AuditExportFile.objects.select_related("export").latest("export__occurred_at")
    if file.status != AuditExportFile.Status.DONE:
        raise RuntimeError(f"export: {file.status} {file.failure}")
    download = f"/{admin}audit/auditexport/{file.pk}/download/"
    started = time.perf_counter()
    status, content, _ms = session.request("POST", download, {})
    link: dict[str, Any] = {}
    if status == 303:  # the bucket: a presigned link to the object, fetched as a browser does
        url = urllib.parse.urlsplit(session.last_location)
        query = urllib.parse.parse_qs(url.query)
        link = {
            "host": url.netloc,
            # Signature version 4 says how long; version 2 (botocore's for this endpoint) when.
            "expires_seconds": round(
                int(query["X-Amz-Expires"][0])
                if "X-Amz-Expires" in query
                else int(query["Expires"][0]) - time.time()
            ),
            "cpf_in_url": bool(re.search(r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}", url.geturl())),
        }
        fetch = http.client.HTTPConnection(url.hostname or "", url.port, timeout=600)
        fetch.request("GET", f"{url.path}?{url.query}")
        response = fetch.getresponse()
        status = response.status
        link["content_disposition"] = response.getheader("Content-Disposition")
        size, lines = 0, 0
        while chunk := response.read(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
        fetch.close()
    else:
        size, lines = len(content), content.count(b"\n")
    download_seconds = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"export download: HTTP {status}")
    rows = lines - 1
    if rows != file.export.row_count:
        raise RuntimeError(f"export: {rows:,} rows downloaded, {file.export.row_count:,} counted")
    return {
        "path": path,
        "written_to": file.location.rsplit("/", 1)[0],
        "rows": rows,
        "bytes": size,
        "steps": file.steps,
        "parts": len(file.parts),
        "seconds": round(elapsed / 1000, 1),
        "rows_per_second": round(rows / (elapsed / 1000)),
        "download_seconds": round(download_seconds, 1),
        "download_link": link,
        "downloads_recorded": AuditExportDownload.objects.filter(export=file.export).count(),
        "worker_rss_before_mb": before["VmRSS"],
        "worker_peak_rss_mb": after["VmHWM"],
        "worker_rss_after_mb": after["VmRSS"],
    }


def _memory(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: round(int(value) / 1024, 1)
        for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)
    }


def _worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def plans(measured: dict[str, Page]) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each query a page sends to the audit table or the
    usage summary, rendering the page in-process exactly as the server does."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench-auditor"))
    explained: dict[str, list[str]] = {}
    for name, (method, path, body, _expected) in measured.items():
        with CaptureQueriesContext(connection) as queries:
            if method == "GET":
                client.get(path)
            else:
                client.post(path, body, follow=True)
        explained[name] = []
        for query in queries.captured_queries:
            sql = query["sql"]
            if not re.search(r'"scores_(consultation|dailyusage)"', sql) or sql.startswith(
                "EXPLAIN"
            ):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            explained[name].append(f"{sql}\n\n{plan}")
    return explained


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Measured {results['when']} on {results['machine']['cpus']} CPUs "
        f"({results['machine']['platform']}), Postgres {results['postgres']}, "
        f"{results['load']['rows']:,} audit rows. Warm; median of {results['repeat']} "
        "requests after 2 warm-up requests, client side over loopback, gunicorn with "
        "production settings.",
        "",
        "| page | median | min | max | < 300 ms |",
        "|---|---:|---:|---:|:---:|",
    ]
    for name, row in results["pages"].items():
        lines.append(
            f"| {name} | {row['median_ms']} ms | {row['min_ms']} ms | {row['max_ms']} ms | "
            f"{'yes' if row['within_budget'] else '**no**'} |"
        )
    size = results["sizes"]
    lines += [
        "",
        f"Table: {size['partitions']} partitions, heap {size['heap_mb']:,} MB "
        f"({size['heap_bytes_per_row']} bytes per row), "
        f"indexes {size['indexes_total_mb']:,} MB, total {size['total_mb']:,} MB.",
        "",
        "| index | MB |",
        "|---|---:|",
        *(f"| {name} | {mb:,} |" for name, mb in size["indexes_mb"].items()),
    ]
    exported = results["export"]
    lines += [
        "",
        f"CSV export: {exported['rows']:,} rows ({exported['bytes'] / 1e6:.0f} MB) in "
        f"{exported['seconds']} s through the task ({exported['steps']} steps) to "
        f"`{exported['written_to']}`, {exported['rows_per_second']:,} rows/s, downloaded in "
        f"{exported['download_seconds']} s"
        + (
            f" through a link lasting {exported['download_link']['expires_seconds']} s"
            if exported["download_link"]
            else ""
        )
        + ";"
        " the worker's RSS "
        f"{exported['worker_rss_before_mb']} MB before, peak {exported['worker_peak_rss_mb']} "
        f"MB, {exported['worker_rss_after_mb']} MB after.",
        "",
        "## Plans",
    ]
    for name, queries in results["plans"].items():
        lines += ["", f"### {name}", ""]
        for query in queries:
            lines += ["```", query, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database", default="scoreportal_auditbench")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument(
        "--export-to",
        choices=("bucket", "media"),
        default="bucket",
        help="the operations bucket on the local S3 endpoint (moto), as on a stage; or "
        "MEDIA_ROOT, as on a laptop without a bucket",
    )
    args = parser.parse_args(argv)

    with postgres() as base_url, moto_server() as dynamodb_url:
        database_url = base_url.rsplit("/", 1)[0] + "/" + args.database
        ensure_database(database_url)
        environment = environment_for(database_url, dynamodb_url)
        if args.export_to == "bucket":
            # moto serves S3 on the same port as DynamoDB.
            environment |= {"OPERATIONS_BUCKET": BUCKET, "S3_ENDPOINT_URL": dynamodb_url}
        os.environ.update(environment)
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        if args.export_to == "bucket":
            from scoreportal import aws_clients

            aws_clients.s3().create_bucket(
                Bucket=BUCKET,
                CreateBucketConfiguration={"LocationConstraint": settings.AWS_REGION},
            )

        loaded = load(args.rows)
        table_sizes = sizes()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            (server_version,) = cursor.fetchone()
        measured = pages(settings.ADMIN_URL)
        # A million-row export streams for longer than gunicorn's default 30 s worker timeout.
        server = AppServer(
            {**environment, "GUNICORN_CMD_ARGS": "--timeout 600"},
            workers=1,
            log_name="bench-audit-gunicorn",
        )
        try:
            server.wait_until_ready()
            session = AuditorSession(server.port)
            print("bench.audit: pages (warm, median) …", flush=True)
            timed = time_pages(session, measured, args.repeat)
            exported = None
            if not args.skip_export:
                print(f"bench.audit: CSV export of about {EXPORT_ROWS:,} rows …", flush=True)
                exported = export(
                    session, settings.ADMIN_URL, _worker_pid(server.process.pid), loaded["rows"]
                )
                print(f"  {exported}", flush=True)
        finally:
            server.stop()
        print("bench.audit: plans …", flush=True)
        explained = plans(measured)

    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "postgres": server_version,
        "repeat": args.repeat,
        "load": loaded,
        "sizes": table_sizes,
        "pages": timed,
        "export": exported,
        "plans": explained,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audit-latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if exported is not None:
        (RESULTS / "audit-latest.md").write_text(markdown(results))
    print(json.dumps({"sizes": table_sizes, "export": exported}, indent=2))
    missed = [name for name, row in timed.items() if not row["within_budget"]]
    print(f"\npages over {BUDGET_MS:.0f} ms: {missed or 'none'}")
    print(f"written: {RESULTS / 'audit-latest.json'}, {RESULTS / 'audit-latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
