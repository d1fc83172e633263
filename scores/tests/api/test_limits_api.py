"""Per-key limits through the API: RateLimit fields, 429s, audit, a key changed elsewhere,
and the per-process fallback when DynamoDB stops."""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import rate_limits
from accounts.constants import Scope
from accounts.models import ApiKey
from devstack.services import moto_server
from scoreportal.error_codes import ErrorCode
from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")

SCORE_URL = "/api/v1/scores"
BATCH_URL = "/api/v1/scores/batch"
# 12:00:15 in São Paulo: 45 s left in the minute, 11 h 59 min 45 s in the quota day.
NOON = datetime(2026, 11, 23, 12, 0, 15, tzinfo=ZoneInfo("America/Sao_Paulo"))


def post(client, url, body):
    return client.generic("POST", url, json.dumps(body), content_type="application/json")


def rate_limit_fields(response):
    return {
        name: response[name]
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
        if response.has_header(name)
    }


@pytest.fixture
def limited_key(issue_key):
    """A key that may score 3 CPFs a minute and 10 a day, batches included."""
    return issue_key(
        scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH], rate_limit_per_minute=3, daily_quota=10
    )


@pytest.fixture
def limited(limited_key):
    """A client that sends `limited_key`."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=limited_key[1])
    return client


# ---------------------------------------------------------------------------------------
# RateLimit fields
# ---------------------------------------------------------------------------------------
def test_if_a_score_is_served_then_the_answer_carries_the_rate_limit_fields(limited, make_profile):
    make_profile()

    with time_machine.travel(NOON, tick=False):
        response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert response.status_code == 200
    assert rate_limit_fields(response) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "45",
    }
    assert response["RateLimit-Policy"] == "3;w=60, 10;w=86400"


@pytest.mark.parametrize(
    ("make_request", "status"),
    [
        pytest.param(lambda c: post(c, SCORE_URL, {"cpf": OTHER_EXAMPLE_CPF}), 404, id="404"),
        pytest.param(lambda c: post(c, SCORE_URL, {"cpf": "123"}), 400, id="bad-cpf"),
        pytest.param(lambda c: post(c, SCORE_URL, {"purpse": "x"}), 400, id="bad-body"),
        pytest.param(lambda c: c.get(SCORE_URL), 405, id="405"),
        pytest.param(lambda c: c.get("/api/v1/usage"), 200, id="usage"),
        pytest.param(lambda c: post(c, BATCH_URL, {"cpfs": []}), 400, id="bad-batch"),
    ],
)
def test_if_a_request_with_a_valid_key_gets_any_answer_then_it_carries_the_fields(
    limited, make_request, status
):
    response = make_request(limited)

    assert response.status_code == status
    assert set(rate_limit_fields(response)) == {
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    }


def test_if_the_key_lacks_the_scope_then_the_403_carries_the_fields(issue_key):
    _, plaintext = issue_key(scopes=[Scope.SCORES_READ])

    response = APIClient().post(
        BATCH_URL, {"cpfs": [EXAMPLE_CPF]}, format="json", HTTP_X_API_KEY=plaintext
    )

    assert response.status_code == 403
    assert response["RateLimit-Remaining"] == "600"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param({"HTTP_X_API_KEY": "Abcd1234." + "x" * 32}, id="unknown-key"),
    ],
)
def test_if_the_key_is_not_valid_then_the_answer_has_no_rate_limit_fields(db, headers):
    response = APIClient().post(SCORE_URL, {"cpf": EXAMPLE_CPF}, format="json", **headers)

    assert response.status_code == 401
    assert rate_limit_fields(response) == {}


def test_if_a_request_is_refused_as_invalid_then_it_costs_nothing(limited):
    for _ in range(5):
        post(limited, SCORE_URL, {"cpf": "123"})

    assert limited.get("/api/v1/usage").json()["rate_limit"]["used"] == 0


def test_if_the_day_has_fewer_left_than_the_minute_then_the_fields_describe_the_day(
    issue_key, make_profile
):
    make_profile()
    _, plaintext = issue_key(rate_limit_per_minute=100, daily_quota=5)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)

    with time_machine.travel(NOON, tick=False):
        response = post(client, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert rate_limit_fields(response) == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "4",
        "RateLimit-Reset": str(12 * 3600 - 15),
    }


# ---------------------------------------------------------------------------------------
# 429: refused, not counted, audited
# ---------------------------------------------------------------------------------------
def test_if_the_minute_is_used_up_then_the_next_request_is_rate_limited_and_audited(
    limited, limited_key, make_profile, settings, django_assert_num_queries
):
    make_profile()
    with time_machine.travel(NOON, tick=False):
        for _ in range(3):
            assert post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF}).status_code == 200
        score_cache.invalidate({Cpf.parse(EXAMPLE_CPF).lookup_hash(settings.CPF_HASH_KEY): 2})

        with django_assert_num_queries(1):  # the audit only: the profile is not read
            response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == ErrorCode.RATE_LIMITED
    assert response["Retry-After"] == "45"
    assert rate_limit_fields(response) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "45",
    }
    row = Consultation.objects.latest("id")
    assert (row.outcome, row.http_status, row.score) == ("rate_limited", 429, None)
    assert row.cpf_masked == "***.982.247-**"
    assert row.api_key == limited_key[0]


def test_if_the_minute_ends_then_the_key_may_score_again(limited, make_profile):
    make_profile()
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(3):
            post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})
        assert post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF}).status_code == 429
        traveller.shift(45)

        response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert (response.status_code, response["RateLimit-Remaining"]) == (200, "2")


def test_if_the_daily_quota_is_used_up_then_requests_get_quota_exceeded_until_midnight(
    limited, make_profile
):
    make_profile()
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(10):
            post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})
            traveller.shift(20)  # three a minute at most

        response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert response.status_code == 429
    assert response.json()["error"]["code"] == ErrorCode.QUOTA_EXCEEDED
    assert response["Retry-After"] == str(12 * 3600 - 15 - 200)
    assert Consultation.objects.filter(outcome="quota_exceeded").count() == 1


# ---------------------------------------------------------------------------------------
# A key changed elsewhere: applied on its next request
# ---------------------------------------------------------------------------------------
def changed_elsewhere(key, **changes):
    """What another instance's service does: change the row, then announce its version."""
    ApiKey.objects.filter(pk=key.pk).update(version=key.version + 1, **changes)
    rate_limits.announce_key_versions({key.prefix: key.version + 1})


def test_if_the_key_is_revoked_elsewhere_then_its_next_request_is_refused_and_audited(
    limited, limited_key, make_profile
):
    make_profile()
    assert post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF}).status_code == 200  # a recent key

    changed_elsewhere(limited_key[0], revoked=True, revoked_at=timezone.now())
    response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == ErrorCode.API_KEY_REVOKED
    assert response["WWW-Authenticate"] == "Api-Key"
    assert rate_limit_fields(response) == {}
    row = Consultation.objects.latest("id")
    assert (row.outcome, row.api_key, row.api_key_prefix) == (
        "api_key_revoked",
        None,
        limited_key[0].prefix,
    )
    assert row.cpf_masked == "***.982.247-**"


def test_if_the_key_loses_a_scope_elsewhere_then_its_next_request_is_refused(
    limited, limited_key, make_profile
):
    make_profile()
    post(limited, BATCH_URL, {"cpfs": [EXAMPLE_CPF]})

    changed_elsewhere(limited_key[0], scopes=[Scope.SCORES_READ])
    response = post(limited, BATCH_URL, {"cpfs": [EXAMPLE_CPF]})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == ErrorCode.INSUFFICIENT_SCOPE


def test_if_a_key_served_from_a_lease_is_revoked_elsewhere_then_it_is_refused_a_second_later(
    issue_key, make_profile, monotonic, dynamodb_calls
):
    make_profile()
    _, plaintext = issue_key(rate_limit_per_minute=100_000, daily_quota=1_000_000)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    # The first is counted alone, the second takes a block of about a second of the key's
    # rate, the third is served from it.
    for _ in range(3):
        assert post(client, SCORE_URL, {"cpf": EXAMPLE_CPF}).status_code == 200
        monotonic.advance(0.01)
    key = ApiKey.objects.get(prefix=plaintext.split(".")[0])
    sent_before = list(dynamodb_calls)

    changed_elsewhere(key, revoked=True, revoked_at=timezone.now())
    dynamodb_calls.clear()
    within_the_second = post(client, SCORE_URL, {"cpf": EXAMPLE_CPF})
    monotonic.advance(1.0)
    a_second_later = post(client, SCORE_URL, {"cpf": EXAMPLE_CPF})

    assert sent_before.count("UpdateItem") == 2
    assert within_the_second.status_code == 200
    assert a_second_later.status_code == 401
    assert a_second_later.json()["error"]["code"] == ErrorCode.API_KEY_REVOKED
    assert dynamodb_calls == ["BatchGetItem"] * 2  # no counter call: the lease served


# ---------------------------------------------------------------------------------------
# DynamoDB stops: per-process limits, every request still served within a second
# ---------------------------------------------------------------------------------------
def test_if_the_dynamodb_endpoint_stops_then_scores_and_batches_go_on_with_per_process_limits(
    limited, make_profile, settings, log_output
):
    make_profile()
    with moto_server() as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint
        score_cache.ensure_table()
        assert post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF}).status_code == 200
    # The server is stopped now: connections to it are refused.

    answers, durations = [], []
    for url, body in [
        (SCORE_URL, {"cpf": EXAMPLE_CPF}),
        (BATCH_URL, {"cpfs": [EXAMPLE_CPF, OTHER_EXAMPLE_CPF]}),
        (SCORE_URL, {"cpf": EXAMPLE_CPF}),  # 4 counted by this process: over 3 a minute
        (BATCH_URL, {"cpfs": [EXAMPLE_CPF]}),
    ]:
        started = time.monotonic()
        answers.append(post(limited, url, body))
        durations.append(time.monotonic() - started)

    assert [answer.status_code for answer in answers] == [200, 200, 429, 429]
    assert answers[0].json()["source"] == "computed"
    assert [r["status"] for r in answers[1].json()["results"]] == ["ok", "no_credit_data"]
    assert [answer["RateLimit-Remaining"] for answer in answers] == ["2", "0", "0", "0"]
    assert max(durations) < 1.0
    warnings = [line["message"] for line in log_output() if line["level"] == "WARNING"]
    assert warnings.count("rate-limit counters unavailable; counting per process for 5.0s") == 1


def test_if_dynamodb_never_answers_then_the_concurrent_calls_keep_a_request_under_a_second(
    limited, make_profile, settings
):
    import socket

    make_profile()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        started = time.monotonic()
        response = post(limited, SCORE_URL, {"cpf": EXAMPLE_CPF})
        elapsed = time.monotonic() - started
    finally:
        listener.close()

    assert (response.status_code, response.json()["source"]) == (200, "computed")
    # The counter update and the cache read each wait out their two attempts, at once.
    assert elapsed < 1.0
