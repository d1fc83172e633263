"""The local stack itself: `make test` must cope on a laptop with no Postgres running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psycopg2
import pytest
from botocore.config import Config

from devstack.__main__ import DOT_ENV, write_dot_env
from devstack.__main__ import run as devstack_run
from devstack.lambda_package import PROJECT
from devstack.services import (
    DATABASE_NAME,
    OWNER_ROLE,
    SERVING_ROLE,
    checkout_roles,
    ensure_database,
    free_port,
    moto_server,
    throwaway_postgres,
)


@pytest.mark.slow
def test_if_no_postgres_runs_then_a_throwaway_cluster_serves_and_is_removed():
    clusters = Path(tempfile.gettempdir()).glob
    before = set(clusters("scoreportal-pg-*"))

    with throwaway_postgres() as url:
        during = set(clusters("scoreportal-pg-*")) - before
        ensure_database(url)
        ensure_database(url)  # idempotent
        connection = psycopg2.connect(url)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), version()")
            row = cursor.fetchone()
        assert row is not None
        name, version = row
        connection.close()

    assert (name, version.split()[0]) == (DATABASE_NAME, "PostgreSQL")
    assert len(during) == 1
    assert not (set(clusters("scoreportal-pg-*")) - before)


def _sql(url, statement):
    """One statement in autocommit (CREATE DATABASE may not run in a transaction)."""
    with contextlib.closing(psycopg2.connect(url)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else None


@pytest.mark.slow
def test_if_a_checkout_s_roles_are_made_then_they_are_its_own_and_take_its_old_test_database():
    with throwaway_postgres() as url:
        base = url.rsplit("/", 1)[0]
        test_database = f"{base}/test_{DATABASE_NAME}"
        _sql(f"{base}/postgres", f"CREATE DATABASE test_{DATABASE_NAME}")  # a run before roles
        _sql(test_database, "CREATE TABLE scores_profile (id bigint)")
        _sql(f"{base}/postgres", "CREATE ROLE another_checkouts_role LOGIN")

        roles = checkout_roles(url)
        again = checkout_roles(url)  # idempotent

        owners = _sql(
            test_database,
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            " UNION SELECT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relname = 'scores_profile'",
        )
        made = _sql(
            test_database,
            "SELECT rolname, rolsuper, rolcreatedb FROM pg_roles"
            " WHERE rolname LIKE 'scoreportal%' OR rolname = 'another_checkouts_role'"
            " ORDER BY rolname",
        )

    assert again == roles
    host = base.removeprefix("postgres://postgres@")
    assert roles.owner_url == f"postgres://{OWNER_ROLE}@{host}/{DATABASE_NAME}"
    assert roles.serving_url == f"postgres://{SERVING_ROLE}@{host}/{DATABASE_NAME}"
    assert owners == [(OWNER_ROLE,)]
    assert made == [
        ("another_checkouts_role", False, False),  # untouched
        (OWNER_ROLE, False, True),  # pytest-django creates the test database as its owner
        (SERVING_ROLE, False, False),
    ]


def test_if_a_moto_server_is_started_then_it_answers_and_stops_afterwards():
    with moto_server() as url:
        status = _get_status(f"{url}/moto-api/data.json")
    assert status == 200
    with pytest.raises(urllib.error.URLError, match="refused"):
        _get_status(f"{url}/moto-api/data.json")


def test_if_a_moto_server_stops_then_none_of_its_processes_is_left():
    with moto_server() as url:
        bind = url.removeprefix("http://")
        assert _processes_with(bind)  # gunicorn's master and its worker

    assert _processes_with(bind) == []


def _processes_with(argument):
    """The processes whose command line has `argument` (Linux's /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if argument.encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # ended while we looked
    return found


def test_if_the_port_is_taken_then_make_run_says_so_before_seeding_anything(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert devstack_run(port) == 1

    assert f"make run PORT={port + 1}" in capsys.readouterr().err


def _get_status(url):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback http)
        return response.status


def test_if_make_run_wrote_its_dot_env_then_manage_py_next_to_it_uses_the_local_stack():
    previous = DOT_ENV.read_bytes() if DOT_ENV.exists() else None
    write_dot_env({"DJANGO_DEBUG": "true", "DJANGO_PUBLIC_URL": "http://127.0.0.1:8000"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    try:
        shown = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                "from django.conf import settings; print(settings.DEBUG, settings.PUBLIC_BASE_URL)",
            ],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ignored = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=PROJECT,
            env={**env, "DJANGO_IGNORE_DOT_ENV": "true"},
            capture_output=True,
            text=True,
        )
    finally:
        if previous is None:
            DOT_ENV.unlink()
        else:
            DOT_ENV.write_bytes(previous)

    assert shown.split() == ["True", "http://127.0.0.1:8000"]
    assert "DJANGO_SECRET_KEY must be set" in ignored.stderr  # production rules without it


SERVER_WITH_A_CHILD = """
import socket, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import socket, sys, time
listener = socket.socket(); listener.bind(("127.0.0.1", int(sys.argv[1]))); listener.listen()
time.sleep(600)
''', sys.argv[1]])
child.wait()
"""

RUNNER = """
import signal, sys
from devstack.__main__ import _interrupt, serve
signal.signal(signal.SIGTERM, _interrupt)
sys.exit(serve([sys.executable, "-c", sys.argv[1], sys.argv[2]], {}))
"""


@pytest.mark.slow
def test_if_make_run_is_terminated_then_the_server_and_its_children_stop(tmp_path):
    port = free_port()
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, SERVER_WITH_A_CHILD, str(port)], cwd=PROJECT
    )
    deadline = time.monotonic() + 10
    while not _listening(port):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)  # waiting for another process to start, not for time to pass

    runner.send_signal(signal.SIGTERM)  # as a process manager stops `make run`
    runner.wait(15)

    assert not _listening(port)


def _listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_if_conditional_updates_race_on_the_local_dynamodb_then_each_is_atomic(settings):
    # DynamoDB's guarantee that the per-key counters stand on; moto alone does not keep it
    # under concurrent requests (see devstack/moto_server.py).
    client = boto3.client(
        "dynamodb",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.DYNAMODB_ENDPOINT_URL,
        config=Config(max_pool_connections=32),
    )
    table = f"atomic-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def add_one(_):
        try:
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD used :one",
                ConditionExpression="attribute_not_exists(used) OR used < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "500"}},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return 0
        return 1

    try:
        with ThreadPoolExecutor(32) as pool:
            admitted = sum(pool.map(add_one, range(1200)))
        stored = client.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]["used"]
    finally:
        client.delete_table(TableName=table)

    assert (admitted, stored) == (500, {"N": "500"})
