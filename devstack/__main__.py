"""`python -m devstack {test,run,package,messages}`: behind the Makefile's targets.

test      Postgres (see devstack.services) + a moto server, then the whole pytest suite.
run       SQLite + a moto server: migrate, create the cache table, seed demo data, serve
          on 127.0.0.1:8000. Ctrl-C stops the server and everything started for it.
package   the Lambda zip for a Zappa stage (default dev), in build/.
messages  the pt-BR catalog: extract our strings into locale/pt_BR/.../django.po (new ones
          untranslated, for a person to translate), then compile django.mo.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from devstack.lambda_package import PROJECT, build_package, describe
from devstack.services import (
    OWNER_ROLE,
    SERVING_ROLE,
    checkout_roles,
    moto_server,
    port_free,
    postgres,
)

# Local, throwaway credentials: moto accepts anything, and real AWS must never be reached.
LOCAL_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "",
    "AWS_REGION": "sa-east-1",
}

TEST_ENVIRONMENT = {
    **LOCAL_AWS,
    "DJANGO_IGNORE_DOT_ENV": "true",
    "DJANGO_SETTINGS_MODULE": "scoreportal.settings_test",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "CPF_HASH_KEY": "test-only-cpf-hash-key-0123456789abcdefghijklmnop",
    "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "SCORE_CACHE_TABLE": "scoreportal-scores-test",
}

RUN_ENVIRONMENT = {
    **LOCAL_AWS,
    "DJANGO_SETTINGS_MODULE": "scoreportal.settings",
    "DJANGO_DEBUG": "true",
}


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], env=env, check=True)


def test(pytest_args: Sequence[str]) -> int:
    with postgres() as database_url, moto_server() as dynamodb_url:
        # The suite connects as the serving role, as the request path does on AWS; the
        # schema's owner builds the test database and does what only it may (conftest.py).
        roles = checkout_roles(database_url)
        env = {
            **os.environ,
            **TEST_ENVIRONMENT,
            "DATABASE_URL": roles.serving_url,
            "DATABASE_OWNER_URL": roles.owner_url,
            "DYNAMODB_ENDPOINT_URL": dynamodb_url,
            "S3_ENDPOINT_URL": dynamodb_url,  # moto serves every AWS service on one port
        }
        print(
            f"devstack: Postgres {database_url.rsplit('@', 1)[-1]} as {SERVING_ROLE} "
            f"(schema owner {OWNER_ROLE}), DynamoDB {dynamodb_url}"
        )
        # In CI the test database is built afresh by running every migration (a data
        # migration that only works on a database migrated step by step must fail there);
        # locally it is reused between runs (pyproject's --reuse-db).
        fresh = ["--create-db"] if os.environ.get("CI") == "true" else []
        command = [sys.executable, "-m", "pytest", *fresh, *pytest_args]
        return subprocess.run(command, env=env).returncode


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


DOT_ENV = PROJECT / ".env"


def write_dot_env(values: dict[str, str]) -> None:
    """The local stack's settings, for `manage.py ...` run next to `make run`."""
    lines = [
        "# Written by `make run` at each start: the local stack it serves. manage.py reads it",
        "# when present; variables set in the environment win. Never committed or packaged.",
        *(f"{name}={value}" for name, value in values.items()),
    ]
    DOT_ENV.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(port: int) -> int:
    # Before anything is seeded: a busy port would otherwise fail only after the demo key
    # was revoked and a new one printed.
    if not port_free(port):
        print(
            f"Port {port} is in use (another `make run`?). Stop it, or choose another port: "
            f"make run PORT={port + 1}",
            file=sys.stderr,
        )
        return 1
    # A process manager's SIGTERM stops everything just as Ctrl-C (SIGINT) does.
    signal.signal(signal.SIGTERM, _interrupt)
    with moto_server() as dynamodb_url:
        local = {
            **RUN_ENVIRONMENT,
            "DYNAMODB_ENDPOINT_URL": dynamodb_url,
            "DJANGO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        local.pop("DJANGO_SETTINGS_MODULE")
        write_dot_env(local)
        env = {**os.environ, **RUN_ENVIRONMENT, **local}
        env.pop("DATABASE_URL", None)  # the laptop default: SQLite
        _manage("migrate", "--no-input", "-v", "0", env=env)
        _manage("ensure_score_table", env=env)
        _manage("seed_demo", "--base-url", f"http://127.0.0.1:{port}", env=env)
        print(
            f"\nLocal DynamoDB (moto) at {dynamodb_url}. Serving on http://127.0.0.1:{port}/ "
            "— Ctrl-C stops everything.\n",
            flush=True,
        )
        # The usage report reads the daily summary: keep it current while serving, as the
        # deployed stage's schedule does.
        threading.Thread(target=_summarize_usage_every, args=(env,), daemon=True).start()
        return serve([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], env)


SUMMARIZE_EVERY_SECONDS = 60


def _summarize_usage_every(env: dict[str, str]) -> None:
    while True:
        time.sleep(SUMMARIZE_EVERY_SECONDS)
        subprocess.run(
            [sys.executable, "manage.py", "summarize_usage"],
            env=env,
            cwd=PROJECT,
            check=False,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C stops the server; this ends with it
        )


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run a server until it exits, or until we are interrupted or terminated; then stop it
    and everything it started (runserver's autoreloader runs the server in a child process).
    """
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


# What `messages` extracts: our code and templates, not tooling, tests or installed packages.
MESSAGES_IGNORE = (
    ".venv",
    "build",
    "staticfiles",
    "bench",
    "devstack",
    "infra",
    "*/tests/*",
    "conftest.py",
)
MESSAGES_LOCALE = "pt_BR"


def messages() -> int:
    env = {**os.environ, **RUN_ENVIRONMENT}
    ignore = [f"--ignore={pattern}" for pattern in MESSAGES_IGNORE]
    _manage("makemessages", "-l", MESSAGES_LOCALE, "--no-obsolete", *ignore, env=env)
    _manage("compilemessages", "-l", MESSAGES_LOCALE, *ignore, env=env)
    return 0


def package(stage: str) -> int:
    output = PROJECT / "build" / f"scoreportal-{stage}.zip"
    # The build's virtualenv lives outside the project: `zappa package` walks the project
    # for modules and would take Zappa's own handler in it for ours (a websocket handler
    # that fails to import on every cold start).
    with tempfile.TemporaryDirectory(prefix="scoreportal-package-") as work_dir:
        built = build_package(stage, output, work_dir=Path(work_dir))
    print(describe(built))
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("test", help="run the test suite; further arguments go to pytest")
    run_parser = commands.add_parser("run", help="serve the portal on the local stack")
    run_parser.add_argument("--port", type=int, default=8000)
    package_parser = commands.add_parser("package", help="build the Lambda zip with Zappa")
    package_parser.add_argument("stage", nargs="?", default="dev")
    commands.add_parser("messages", help="update and compile the pt-BR catalog")
    args, rest = parser.parse_known_args(argv)
    if args.command == "test":
        return test(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "package":
        return package(args.stage)
    if args.command == "messages":
        return messages()
    return run(args.port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
