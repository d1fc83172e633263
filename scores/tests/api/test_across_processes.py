"""Two server processes, one DynamoDB endpoint, one database: one limit, one revocation.

The servers are the application under gunicorn (devstack.services.AppServer) with the test
settings, the test database pytest-django created and this test's score table on the test
DynamoDB endpoint. What they must see is committed first (transactional tests).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.constants import Scope
from accounts.services import api_key_revoke, organization_update
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The servers' wall clock, stopped: all their requests fall in one minute of one day.
STOPPED_CLOCK = "2026-11-23T12:00:30-03:00"


def score(server, plaintext, cpf=EXAMPLE_CPF):
    """POST a score request; returns (status, error code or None)."""
    request = urllib.request.Request(  # noqa: S310 (loopback http)
        f"{server.url}/api/v1/scores",
        data=json.dumps({"cpf": cpf}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": plaintext},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["error"]["code"]


def test_if_two_servers_share_one_dynamodb_then_100_concurrent_requests_meet_one_limit_of_60(
    start_servers, issue_key, make_profile, dynamodb, score_table
):
    make_profile()
    key, plaintext = issue_key(rate_limit_per_minute=60, daily_quota=1000)
    servers = start_servers(2, SCOREPORTAL_TEST_WALL_CLOCK=STOPPED_CLOCK)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: score(servers[n % 2], plaintext), range(100)))

    # Each server alone would have let 60 through: the limit is the one they share.
    assert Counter(answers) == {(200, None): 60, (429, "rate_limited"): 40}
    rows = Consultation.objects.filter(api_key=key)
    assert Counter(rows.values_list("outcome", "http_status")) == {
        ("scored", 200): 60,
        ("rate_limited", 429): 40,
    }
    counter = dynamodb.get_item(
        TableName=score_table, Key={"pk": {"S": f"key#{key.prefix}"}}, ConsistentRead=True
    )["Item"]
    assert (counter["minute_used"], counter["day"]) == ({"N": "60"}, {"S": "2026-11-23"})


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        pytest.param(lambda key: api_key_revoke(api_key=key), "api_key_revoked", id="revoked"),
        pytest.param(
            lambda key: organization_update(
                organization=key.organization, data={"is_active": False}
            ),
            "invalid_api_key",
            id="organization-deactivated",
        ),
    ],
)
def test_if_a_key_is_refused_through_the_service_then_running_servers_refuse_it_within_2s(
    start_servers, issue_key, make_profile, change, refusal
):
    make_profile()
    key, plaintext = issue_key(scopes=[Scope.SCORES_READ])
    servers = start_servers(2)
    assert [score(server, plaintext)[0] for server in servers] == [200, 200]  # both hold it

    change(key)  # here, in the test process: another instance for the servers
    changed_at = time.monotonic()
    refused_after: dict[int, float] = {}
    while len(refused_after) < len(servers) and time.monotonic() - changed_at < 2.0:
        for n, server in enumerate(servers):
            if n not in refused_after and score(server, plaintext) == (401, refusal):
                refused_after[n] = time.monotonic() - changed_at
        time.sleep(0.05)

    # Each server holds the key it read less than API_KEY_CACHE_SECONDS (30 s) ago: only
    # the announced version makes it read the key again.
    assert sorted(refused_after) == [0, 1], refused_after
    assert max(refused_after.values()) < 2.0
