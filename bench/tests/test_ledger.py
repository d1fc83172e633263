"""The load with an audit ledger, CI-length: a mixed load on a gunicorn server, reconciled.

`make load` runs the same program for 30 s at 32 connections (bench/README.md); here 5 s at
8 connections against the test stores, and every answer must have exactly its audit rows.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from bench.ledger import (
    BATCH_PATH,
    KINDS,
    SCORE_PATH,
    Mix,
    Population,
    audit_rows,
    describe,
    populate,
    reconcile,
)
from bench.load import Drive, Exchange, Planned, drive


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_if_a_mixed_load_is_served_then_every_answer_has_exactly_its_audit_rows(start_servers):
    mix = Mix(populate(profiles=200))
    [server] = start_servers(1)

    since = timezone.now()
    driven = drive(
        port=server.port, plan=mix.request, concurrency=8, duration=5, server_pid=server.process.pid
    )
    ledger = reconcile(
        driven, mix, audit_rows(since=since, until=timezone.now() + timedelta(seconds=1))
    )

    print(describe(ledger))  # shown with -rP
    assert {name for name, figures in ledger.kinds.items() if figures.requests} == {
        kind.name for kind in KINDS
    }
    assert (ledger.server_errors, ledger.no_answer, ledger.unexpected) == (0, 0, [])
    assert (ledger.without_request_id, ledger.repeated_request_ids) == (0, 0)
    assert (ledger.lost, ledger.duplicated, ledger.orphans) == (0, 0, 0)
    assert all(expected == found for expected, found in ledger.table.values())
    assert ledger.ok


# ---------------------------------------------------------------------------------------
# The reconciliation itself: what it counts when the trail and the answers disagree
# ---------------------------------------------------------------------------------------
SCORE_ID = "00000000-0000-4000-8000-000000000001"
BATCH_ID = "00000000-0000-4000-8000-000000000002"
OTHER_ID = "00000000-0000-4000-8000-000000000003"


def exchange(n, path, status, body, request_id):
    planned = Planned("POST", path, {}, json.dumps({"cpfs": ["x", "y"]}).encode())
    content = json.dumps(body).encode()
    return Exchange(n, planned, status, {"X-Request-ID": request_id}, content, 1.0, True)


def two_answers():
    """A score served, and a batch of two CPFs (one scored, one without credit data)."""
    return Drive(
        exchanges=[
            exchange(0, SCORE_PATH, 200, {"score": 700}, SCORE_ID),
            exchange(
                1,
                BATCH_PATH,
                200,
                {"results": [{"status": "ok"}, {"status": "no_credit_data"}]},
                BATCH_ID,
            ),
        ],
        seconds=1.0,
        server_cpu_seconds=None,
    )


ROWS = [
    (SCORE_ID, ("scores", "scored", 200)),
    (BATCH_ID, ("scores_batch", "scored", 200)),
    (BATCH_ID, ("scores_batch", "no_credit_data", 200)),
]


@pytest.mark.parametrize(
    ("rows", "counted"),
    [
        pytest.param(ROWS, (0, 0, 0), id="reconciled"),
        pytest.param([ROWS[0], ROWS[2]], (1, 0, 0), id="a-batch-row-lost"),
        pytest.param([*ROWS, ROWS[0]], (0, 1, 0), id="a-row-duplicated"),
        pytest.param(
            [(SCORE_ID, ("scores", "invalid_cpf", 400)), *ROWS[1:]], (1, 1, 0), id="a-wrong-outcome"
        ),
        pytest.param([*ROWS, (OTHER_ID, ("scores", "scored", 200))], (0, 0, 1), id="an-orphan"),
    ],
)
def test_if_the_trail_and_the_answers_disagree_then_the_ledger_counts_how(rows, counted):
    mix = Mix(Population("k", "r", "l", ["c"], ["u"]))

    ledger = reconcile(two_answers(), mix, rows)

    assert (ledger.lost, ledger.duplicated, ledger.orphans) == counted
    assert ledger.table["scores_batch no_credit_data 200"] == [1, 1]
