"""Local stand-ins for the production stores: a Postgres and a DynamoDB wire endpoint.

Used by `make test`, `make run` and `make bench` (and by tests that need a store of their
own, such as a DynamoDB endpoint to stop). Nothing here ships to Lambda.

Postgres, in order of preference: DATABASE_URL if set; the server on 127.0.0.1:5432 if one
answers; else a throwaway cluster (initdb + postgres on a free port, as the `postgres` user
when we are root, since initdb refuses to run as root), removed afterwards. The fault
tests start a cluster of their own (`PostgresCluster`) to stop and restart it. On each,
`checkout_roles` makes the two roles the suite connects as (scoreportal/database_roles.py).

DynamoDB: moto's AWS emulator over HTTP on a free loopback port, served by gunicorn with
keep-alive connections (see devstack/moto_server.py).

The application itself under gunicorn (`AppServer`): for the benchmark, and for the tests
that need real server processes (limits and revocations shared across instances).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LOCAL_POSTGRES = ("127.0.0.1", 5432)
# One database name per checkout: two checkouts testing at once on the same server (git
# worktrees, two clones) would otherwise share, flush and drop each other's test database
# (pytest-django's test_<name>).
DATABASE_NAME = f"scoreportal_{hashlib.sha256(str(PROJECT).encode()).hexdigest()[:8]}"
# Roles belong to the whole server while databases are per checkout: each checkout has
# its own two, named like its database, so that no run changes a role another relies on.
OWNER_ROLE = f"{DATABASE_NAME}_owner"
SERVING_ROLE = f"{DATABASE_NAME}_serving"
LOG_DIR = PROJECT / ".devstack"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether a server could listen on this loopback port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s (logs in {LOG_DIR})")


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ==============================================================================
# DynamoDB (moto server)
# ==============================================================================
@contextlib.contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Run moto's server on loopback; yield its endpoint URL; stop it afterwards."""
    port = port or free_port()
    LOG_DIR.mkdir(exist_ok=True)
    log = (LOG_DIR / f"moto-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "devstack.moto_server:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "16",
            "--keep-alive",
            "75",
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group: a terminal's Ctrl-C reaches gunicorn's master and worker
        # at once and could leave the worker holding the port; we stop the group instead.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: process.poll() is None and _http_ok(url), "moto server")
        yield url
    finally:
        _stop_group(process)
        log.close()


def _stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a process started in its own session and every process of its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    # A worker the master left behind (it ignored the master's SIGTERM) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=0.5):  # noqa: S310 (loopback)
            return True
    except (urllib.error.URLError, OSError):
        return False


# ==============================================================================
# The application under gunicorn
# ==============================================================================
class AppServer:
    """The app under gunicorn on a free loopback port: sync workers, no access log.

    Started at construction; `wait_until_ready` waits for its health endpoint to answer.
    The environment is added to this process's own (settings, stores).
    """

    def __init__(self, environment: dict[str, str], *, workers: int, log_name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        LOG_DIR.mkdir(exist_ok=True)
        self.log_path = LOG_DIR / f"{log_name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "scoreportal.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                    "--worker-class",
                    "sync",
                    "--log-level",
                    "warning",
                ],
                env={**os.environ, **environment},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        _wait_until(
            lambda: self.process.poll() is None and _answers(f"{self.url}/api/v1/health"),
            f"gunicorn on port {self.port} (log: {self.log_path})",
            timeout,
        )

    def stop(self) -> None:
        _stop(self.process, timeout=15)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
            return True
    except urllib.error.HTTPError:
        return True  # it answers (503: a store is down, which is the caller's business)
    except (urllib.error.URLError, OSError):
        return False


# ==============================================================================
# Postgres
# ==============================================================================
@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yield a DATABASE_URL for a Postgres server, starting a throwaway one if need be."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _port_open(*LOCAL_POSTGRES):
        host, port = LOCAL_POSTGRES
        yield f"postgres://postgres@{host}:{port}/{DATABASE_NAME}"
    else:
        with throwaway_postgres() as url:
            yield url


def postgres_bindir() -> Path:
    for candidate in ("initdb", "pg_ctl"):
        found = shutil.which(candidate)
        if found:
            return Path(found).resolve().parent
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if versions:
        return versions[-1]
    raise RuntimeError("No Postgres found: set DATABASE_URL or install PostgreSQL (initdb).")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """initdb a cluster in a temporary directory, serve it on a free port, then remove it."""
    with postgres_cluster() as cluster:
        yield cluster.url


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started throwaway cluster (see PostgresCluster), removed when the block ends."""
    cluster = PostgresCluster()
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


class PostgresCluster:
    """A throwaway Postgres cluster: initdb in a temporary directory, served on a free
    loopback port (as the `postgres` user when we are root, since initdb refuses root).

    It can be stopped and started again on the same port, as an operator or a failover
    would: the fault-injection tests stop the database under a running application.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="scoreportal-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log_path = self.root / "postgres.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def initdb(self) -> None:
        self.sockets.mkdir()
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
            shutil.chown(self.sockets, user="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and wait until it has (`fast`: sessions are ended at once)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, str(self.bindir / program), *args], check=True, capture_output=True
        )


@dataclass(frozen=True)
class CheckoutRoles:
    """URLs of the database as this checkout's two roles (no password: local trust)."""

    owner_url: str
    serving_url: str


def checkout_roles(admin_url: str) -> CheckoutRoles:
    """Make this checkout's roles on the server of `admin_url`, whose user may create roles:
    the schema's owner (who may also create the test database, as pytest-django does) and
    the serving role. A test database left by a run before the roles existed is handed to
    the owner, as `ensure_database_roles` hands over a deployed one. Idempotent."""
    import psycopg2

    from scoreportal.database_roles import ensure_login_role, hand_database_to_owner

    base, name = admin_url.rsplit("/", 1)
    with (
        contextlib.closing(psycopg2.connect(f"{base}/postgres")) as connection,
        connection,
        connection.cursor() as cursor,
    ):
        ensure_login_role(cursor, OWNER_ROLE, create_databases=True)
        ensure_login_role(cursor, SERVING_ROLE)
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"test_{name}"])
        test_database_exists = cursor.fetchone() is not None
    if test_database_exists:
        with (
            contextlib.closing(psycopg2.connect(f"{base}/test_{name}")) as connection,
            connection,
            connection.cursor() as cursor,
        ):
            hand_database_to_owner(cursor, OWNER_ROLE)
    return CheckoutRoles(
        owner_url=_as_user(admin_url, OWNER_ROLE), serving_url=_as_user(admin_url, SERVING_ROLE)
    )


def _as_user(url: str, user: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{user}@{host}:{parts.port}" if parts.port else f"{user}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def copy_database(source_url: str, target_url: str) -> None:
    """Copy a database (schema, rows, owners and grants) into another, existing and empty,
    with pg_dump: the roles it names must exist on the target's server (checkout_roles)."""
    dump = subprocess.run(
        [str(postgres_bindir() / "pg_dump"), source_url],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(
        [str(postgres_bindir() / "psql"), "--quiet", "-v", "ON_ERROR_STOP=1", target_url],
        input=dump,
        capture_output=True,
        check=True,
    )


def ensure_database(url: str) -> None:
    """Create the database named in a postgres:// URL if it does not exist."""
    import psycopg2
    from psycopg2 import sql

    dsn = url.rsplit("/", 1)
    name = dsn[1]
    connection = psycopg2.connect(f"{dsn[0]}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()
