"""Faults of the stores under a running server, with real processes and real sockets.

The application is served by gunicorn (devstack.services.AppServer, through `start_servers`)
while the test breaks what it depends on, mid-run, and a client keeps asking for scores:

- DynamoDB: a moto server process of the test's own, stopped and started again on the same
  port; the shared moto server behind a proxy (devstack.faults.http_proxy) that holds its
  answers (slow) or answers garbage, and then passes them on again.
- Postgres: a throwaway cluster of the test's own (devstack.services.PostgresCluster, a copy
  of the test database with its roles, served as the serving role), stopped with `pg_ctl
  stop -m fast` and started again on its port.

The servers' cool-down after a DynamoDB failure is shortened to COOL_DOWN by configuration
(DYNAMODB_FAILURE_COOLDOWN_SECONDS), so that the cache's return is seen within seconds.
The timings each test measures are printed (`make test ARGS="-rP scores/tests/api/test_faults.py"`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import pytest
from django.db import connections

from accounts.constants import Scope
from devstack.faults import http_proxy
from devstack.services import (
    checkout_roles,
    copy_database,
    ensure_database,
    free_port,
    moto_server,
    postgres_cluster,
)
from scoreportal.error_codes import ErrorCode
from scores.constants import ScoreSource
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The servers' DYNAMODB_FAILURE_COOLDOWN_SECONDS (5 s in production).
COOL_DOWN = 1.0
# No answer may take longer while DynamoDB misbehaves: a call gives up after two attempts
# of 0.25 s (connect) or 0.3 s (read) with 50 ms between them, and the request's two calls
# (the cache read, the counter update) are made at the same time.
DYNAMODB_BUDGET = 1.0
# How long a request may take to be refused while Postgres is down (refused connections
# fail at once; DATABASE_CONNECT_TIMEOUT, 5 s, bounds an unanswered one).
POSTGRES_BUDGET = 2.0
# The proxy's delays: within the read timeout (0.3 s), and past it.
SLOW = 0.1
TOO_SLOW = 1.0
# The traffic's key may score without practical limits.
UNLIMITED = 10**9
# The servers' wall clock, stopped: their per-process counts all fall in one minute.
STOPPED_CLOCK = "2026-11-23T12:00:30-03:00"

SCORE_PATH = "/api/v1/scores"


# ---------------------------------------------------------------------------------------
# A client of a server process
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One answer, with when its request was sent (monotonic) and how long it took."""

    sent_at: float
    seconds: float
    status: int
    body: dict[str, Any]
    text: str
    headers: dict[str, str]

    @property
    def code(self):
        return self.body.get("error", {}).get("code")

    @property
    def source(self):
        return self.body.get("source")


def call(server, method: str, path: str, *, key: str | None = None, body: Any = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    sent_at = time.monotonic()
    try:
        connection.request(
            method, path, body=None if body is None else json.dumps(body), headers=headers
        )
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    seconds = time.monotonic() - sent_at
    return Answer(
        sent_at=sent_at,
        seconds=seconds,
        status=response.status,
        body=json.loads(text) if text else {},
        text=text,
        headers={name.lower(): value for name, value in response.getheaders()},
    )


def score(server, key: str, cpf: str = EXAMPLE_CPF) -> Answer:
    return call(server, "POST", SCORE_PATH, key=key, body={"cpf": cpf})


class Traffic:
    """A client asking `server` for one score after another, from a thread, for as long as
    the block lasts; `wait_for` waits (with a deadline) for an answer that meets a condition.
    """

    def __init__(self, server, key: str) -> None:
        self.server, self.key = server, key
        self.answers: list[Answer] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = score(self.server, self.key)
            with self._changed:
                self.answers.append(answer)
                self._changed.notify_all()

    def wait_for(self, condition: Callable[[Answer], bool], *, timeout: float = 15) -> Answer:
        def found() -> Answer | None:
            return next((answer for answer in self.answers if condition(answer)), None)

        with self._changed:
            answer = self._changed.wait_for(found, timeout)
        assert answer is not None, f"no such answer within {timeout} s: {self.answers[-3:]}"
        return answer

    def sent_between(self, start: float, end: float = float("inf")) -> list[Answer]:
        with self._changed:
            return [answer for answer in self.answers if start <= answer.sent_at < end]


def until(
    ask: Callable[[], Answer], condition: Callable[[Answer], bool], timeout: float = 15
) -> Answer:
    """Ask again and again until an answer meets `condition`, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        answer = ask()
        if condition(answer) or time.monotonic() > deadline:
            assert condition(answer), f"not within {timeout} s: {answer}"
            return answer


def report(title: str, **timings: float) -> None:
    """Print what a test measured (shown with -rP)."""
    shown = ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in timings.items())
    print(f"{title}: {shown}")


def p50(answers: list[Answer]) -> float:
    return statistics.median(answer.seconds for answer in answers)


def server_log(server) -> list[dict[str, Any]]:
    lines = Path(server.log_path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def warnings(server) -> list[str]:
    return [line["message"] for line in server_log(server) if line["level"] == "WARNING"]


def create_score_table(endpoint: str, table: str) -> None:
    client = boto3.client("dynamodb", region_name="sa-east-1", endpoint_url=endpoint)
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


# ---------------------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------------------
def outage_warnings(server, store: str) -> int:
    """How many times the server logged that it works without DynamoDB (`cache`: the score
    cache, `counters`: the per-key limits)."""
    prefix = {
        "cache": "score cache ",
        "counters": "rate-limit counters unavailable; counting per process",
    }[store]
    return sum(message.startswith(prefix) for message in warnings(server))


def test_if_the_dynamodb_endpoint_stops_and_restarts_mid_run_then_every_score_is_served_in_budget(
    start_servers, issue_key, make_profile, score_table
):
    make_profile()
    _, key = issue_key(rate_limit_per_minute=UNLIMITED, daily_quota=UNLIMITED)
    _, limited_key = issue_key(name="3 a minute", rate_limit_per_minute=3, daily_quota=100)
    port = free_port()
    first_run = contextlib.ExitStack()
    endpoint = first_run.enter_context(moto_server(port))
    create_score_table(endpoint, score_table)
    [server] = start_servers(
        1,
        DYNAMODB_ENDPOINT_URL=endpoint,
        DYNAMODB_FAILURE_COOLDOWN_SECONDS=str(COOL_DOWN),
        SCOREPORTAL_TEST_WALL_CLOCK=STOPPED_CLOCK,
    )

    with Traffic(server, key) as traffic:
        traffic.wait_for(lambda answer: answer.source == ScoreSource.CACHE)
        first_run.close()  # the moto server process is stopped: connections are refused
        stopped_at = time.monotonic()
        first_computed = traffic.wait_for(
            lambda answer: answer.sent_at > stopped_at and answer.source == ScoreSource.COMPUTED
        )
        # Each server counts alone, with the same limits, and says so.
        limited = [score(server, limited_key) for _ in range(4)]
        usage = call(server, "GET", "/api/v1/usage", key=key)
        # Through more than two cool-downs: DynamoDB is tried again, and fails again.
        traffic.wait_for(lambda answer: answer.sent_at > stopped_at + 2.5 * COOL_DOWN)
        with moto_server(port):  # the same endpoint again, empty: moto keeps no state
            create_score_table(endpoint, score_table)
            restarted_at = time.monotonic()
            resumed = traffic.wait_for(
                lambda answer: answer.sent_at > restarted_at and answer.source == ScoreSource.CACHE
            )
            usage_after = until(
                lambda: call(server, "GET", "/api/v1/usage", key=key),
                lambda answer: answer.body["counted"] == "across_instances",
            )
            traffic.stop()  # before the endpoint stops again

    outage = traffic.sent_between(stopped_at, restarted_at)
    assert {answer.status for answer in traffic.answers} == {200}
    assert {answer.source for answer in outage} == {ScoreSource.COMPUTED}
    assert max(answer.seconds for answer in traffic.answers) < DYNAMODB_BUDGET
    assert [(answer.status, answer.code) for answer in limited] == [
        (200, None),
        (200, None),
        (200, None),
        (429, ErrorCode.RATE_LIMITED),
    ]
    assert [answer.headers["ratelimit-remaining"] for answer in limited] == ["2", "1", "0", "0"]
    assert usage.body["counted"] == "this_instance_only"
    # Logged once per cool-down, not once per request (+ 3: a failure may straddle either end
    # of the outage as the test clocks it, and one more read may time out on the restarting
    # endpoint now that the cache and the counters share one cool-down).
    most = (restarted_at - stopped_at) / COOL_DOWN + 3
    assert 1 <= outage_warnings(server, "counters") <= most < len(outage) / 10
    assert 1 <= outage_warnings(server, "cache") <= most
    report(
        "DynamoDB stopped, restarted",
        first_computed_after_stop=first_computed.sent_at + first_computed.seconds - stopped_at,
        slowest_answer_during_outage=max(answer.seconds for answer in outage),
        p50_during_outage=p50(outage),
        cache_resumed_after_restart=resumed.sent_at + resumed.seconds - restarted_at,
        shared_counters_resumed_after_restart=usage_after.sent_at
        + usage_after.seconds
        - restarted_at,
    )


def test_if_dynamodb_turns_slow_then_answers_garbage_then_recovers_then_scores_keep_in_budget(
    start_servers, issue_key, make_profile, settings
):
    make_profile()
    _, key = issue_key(rate_limit_per_minute=UNLIMITED, daily_quota=UNLIMITED)
    with http_proxy(settings.DYNAMODB_ENDPOINT_URL) as proxy:
        [server] = start_servers(
            1, DYNAMODB_ENDPOINT_URL=proxy.url, DYNAMODB_FAILURE_COOLDOWN_SECONDS=str(COOL_DOWN)
        )
        with Traffic(server, key) as traffic:
            traffic.wait_for(lambda answer: answer.source == ScoreSource.CACHE)
            switched = {"slow": time.monotonic()}
            proxy.delay = SLOW  # every answer late, but within the read timeout
            traffic.wait_for(lambda answer: answer.sent_at > switched["slow"] + 1.0)
            switched["too slow"] = time.monotonic()
            proxy.delay = TOO_SLOW  # past the read timeout: every call times out
            traffic.wait_for(lambda answer: answer.sent_at > switched["too slow"] + 2.5 * COOL_DOWN)
            switched["garbage"] = time.monotonic()
            proxy.delay, proxy.garbage = 0.0, True
            traffic.wait_for(lambda answer: answer.sent_at > switched["garbage"] + 2.5 * COOL_DOWN)
            usage = call(server, "GET", "/api/v1/usage", key=key)
            switched["recovered"] = time.monotonic()
            proxy.garbage = False
            resumed = traffic.wait_for(
                lambda answer: (
                    answer.sent_at > switched["recovered"] and answer.source == ScoreSource.CACHE
                )
            )

    names = list(switched)
    starts = [switched[name] for name in names]
    # Each phase's answers: sent after it began, answered before the next began.
    answered = {
        name: [
            answer
            for answer in traffic.sent_between(start)
            if answer.sent_at + answer.seconds < end
        ]
        for name, start, end in zip(names, starts, [*starts[1:], float("inf")], strict=True)
    }
    assert {answer.status for answer in traffic.answers} == {200}
    assert max(answer.seconds for answer in traffic.answers) < DYNAMODB_BUDGET
    assert {answer.source for answer in answered["slow"]} == {ScoreSource.CACHE}
    assert min(answer.seconds for answer in answered["slow"]) >= SLOW
    assert {answer.source for answer in answered["too slow"]} == {ScoreSource.COMPUTED}
    assert {answer.source for answer in answered["garbage"]} == {ScoreSource.COMPUTED}
    assert usage.body["counted"] == "this_instance_only"
    # Every kind of failure is a warning: no traceback, no error.
    assert not [line for line in server_log(server) if line["level"] not in ("INFO", "WARNING")]
    assert not [line for line in server_log(server) if "exception" in line]
    report(
        f"DynamoDB answering {SLOW * 1000:.0f} ms late",
        p50=p50(answered["slow"]),
        slowest=max(answer.seconds for answer in answered["slow"]),
    )
    report(
        f"DynamoDB answering {TOO_SLOW * 1000:.0f} ms late (past the read timeout)",
        p50=p50(answered["too slow"]),
        slowest=max(answer.seconds for answer in answered["too slow"]),
    )
    report(
        "DynamoDB answering garbage",
        p50=p50(answered["garbage"]),
        slowest=max(answer.seconds for answer in answered["garbage"]),
        cache_resumed_after_recovery=resumed.sent_at + resumed.seconds - switched["recovered"],
    )


# ---------------------------------------------------------------------------------------
# Postgres
# ---------------------------------------------------------------------------------------
def database_url() -> str:
    """The test database's URL as its owner: what the test committed is in it."""
    db = connections["owner"].settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def own_postgres() -> Iterator[Callable[[], tuple[Any, str]]]:
    """Start a throwaway cluster holding a copy of the test database as the test has made it
    so far (call it once what the servers need is committed), with the same two roles, owners
    and grants; removed afterwards. Returns it and the URL servers connect with (the serving
    role's)."""
    with contextlib.ExitStack() as stack:

        def start() -> tuple[Any, str]:
            cluster = stack.enter_context(postgres_cluster())
            ensure_database(cluster.url)
            roles = checkout_roles(cluster.url)
            copy_database(database_url(), cluster.url)
            return cluster, roles.serving_url

        yield start


def audit_rows_by_request(cluster, request_ids: list[str]) -> dict[str, int]:
    """How many audit rows the cluster holds for each of these request ids."""
    with contextlib.closing(psycopg2.connect(cluster.url)) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT request_id::text, count(*) FROM scores_consultation"
            " WHERE request_id = ANY(%s::uuid[]) GROUP BY request_id",
            [request_ids],
        )
        return dict(cursor.fetchall())


def worker_pids(server) -> list[str]:
    """The gunicorn master's worker processes."""
    master = server.process.pid
    return Path(f"/proc/{master}/task/{master}/children").read_text().split()


# What the server may log with a traceback while the database is down: the audit write that
# failed (the 503 it answers instead of the score), a database error in a view, the health
# check's finding. Anything else (a 500, an error escaping the envelope) is a defect.
INTENDED_TRACEBACKS = {
    ("scores.api.views", "audit write failed; answering 503 without the score"),
    ("scoreportal.api.errors", "database error while serving an API request"),
    ("scores.api.views", "health check: database unavailable"),
}


def test_if_postgres_stops_and_restarts_mid_run_then_503s_come_fast_and_the_server_recovers(
    start_servers, issue_key, make_profile, own_postgres
):
    make_profile()
    _, key = issue_key(
        scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH],
        rate_limit_per_minute=UNLIMITED,
        daily_quota=UNLIMITED,
    )
    _, unseen_key = issue_key(name="not used before the outage")
    cluster, serving_url = own_postgres()
    [server] = start_servers(1, DATABASE_URL=serving_url)
    workers = worker_pids(server)

    with Traffic(server, key) as traffic:
        traffic.wait_for(lambda answer: answer.source == ScoreSource.CACHE)
        stopping_at = time.monotonic()
        cluster.stop()  # pg_ctl stop -m fast: sessions ended, new connections refused
        stopped_at = time.monotonic()
        first_503 = traffic.wait_for(lambda answer: answer.status == 503)
        during = [
            score(server, unseen_key),  # its authentication needs the database
            call(server, "POST", "/api/v1/scores/batch", key=key, body={"cpfs": [EXAMPLE_CPF]}),
            call(server, "GET", "/api/v1/usage", key=unseen_key),
        ]
        health = call(server, "GET", "/api/v1/health")
        traffic.wait_for(lambda answer: answer.sent_at > stopped_at + 1.0)  # a second down
        restarting_at = time.monotonic()
        cluster.start()  # the same data directory, the same port
        restarted_at = time.monotonic()
        recovered = traffic.wait_for(
            lambda answer: answer.sent_at > restarted_at and answer.status == 200
        )
        after = score(server, unseen_key)

    refused = [*traffic.sent_between(first_503.sent_at, restarting_at), *during]
    for answer in refused:
        assert (answer.status, answer.code) == (503, ErrorCode.SERVICE_UNAVAILABLE), answer.text
        assert set(answer.body) == {"error"}
        assert set(answer.body["error"]) == {"code", "message", "request_id"}
        assert answer.body["error"]["request_id"] == answer.headers["x-request-id"]
        assert answer.seconds < POSTGRES_BUDGET
    assert (health.status, health.body) == (
        503,
        {"status": "unavailable", "database": "unavailable", "score_cache": "ok"},
    )
    assert {answer.status for answer in traffic.answers} == {200, 503}
    assert after.status == 200
    assert worker_pids(server) == workers  # the same process recovered
    # Every score served has its audit row; nothing refused has one.
    served = [answer for answer in [*traffic.answers, after] if answer.status == 200]
    rows = audit_rows_by_request(
        cluster, [answer.headers["x-request-id"] for answer in [*served, *refused]]
    )
    assert rows == {answer.headers["x-request-id"]: 1 for answer in served}
    log = server_log(server)
    assert not [line for line in log if line.get("status", 0) >= 500 and line["status"] != 503]
    tracebacks = {(line["logger"], line["message"]) for line in log if "exception" in line}
    assert tracebacks <= INTENDED_TRACEBACKS
    report(
        "Postgres stopped, restarted",
        pg_ctl_stop=stopped_at - stopping_at,
        first_503_after_stop_began=first_503.sent_at + first_503.seconds - stopping_at,
        slowest_503=max(answer.seconds for answer in refused),
        p50_503=p50(refused),
        pg_ctl_start=restarted_at - restarting_at,
        first_200_after_restart=recovered.sent_at + recovered.seconds - restarted_at,
    )
