"""GET /api/v1/usage: the calling key's limits and consumption; logged, never audited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import rate_limits
from accounts.constants import Scope
from accounts.models import ApiKey
from devstack.services import free_port
from scoreportal.error_codes import ErrorCode
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")

URL = "/api/v1/usage"
NOON = datetime(2026, 11, 23, 12, 0, 15, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
def usage_key(issue_key):
    return issue_key(
        name="portfolio", scopes=[Scope.SCORES_BATCH], rate_limit_per_minute=50, daily_quota=900
    )


@pytest.fixture
def client(usage_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {usage_key[1]}")
    return client


def test_if_a_key_has_scored_then_usage_shows_its_limits_consumption_and_resets(
    client, usage_key, make_profile, log_output
):
    make_profile()
    with time_machine.travel(NOON, tick=False):
        client.post("/api/v1/scores/batch", {"cpfs": [EXAMPLE_CPF] * 7}, format="json")

        response = client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "key": {
            "prefix": usage_key[0].prefix,
            "name": "portfolio",
            "organization": "banco-exemplo",
            "scopes": ["scores:batch"],
        },
        "rate_limit": {
            "limit": 50,
            "used": 7,
            "remaining": 43,
            "resets_at": "2026-11-23T15:01:00Z",
            "resets_in_seconds": 45,
        },
        "daily_quota": {
            "limit": 900,
            "used": 7,
            "remaining": 893,
            "resets_at": "2026-11-24T03:00:00Z",
            "resets_in_seconds": 12 * 3600 - 15,
            "day": "2026-11-23",
        },
        "counted": "across_instances",
        "request_id": response["X-Request-ID"],
    }
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("50", "43")
    request_line = [line for line in log_output() if line["logger"] == "scoreportal.request"][-1]
    assert request_line["endpoint"] == "api/v1/usage/?$"
    assert (request_line["key_prefix"], request_line["organization"]) == (
        usage_key[0].prefix,
        "banco-exemplo",
    )


def test_if_usage_is_asked_then_nothing_is_counted_or_audited(client, django_assert_num_queries):
    client.get(URL)  # the key is now recent

    with django_assert_num_queries(0):
        for _ in range(3):
            response = client.get(URL)

    assert response.json()["daily_quota"]["used"] == 0
    assert not Consultation.objects.exists()


@pytest.mark.parametrize("path", [URL, URL + "/"], ids=["no-slash", "trailing-slash"])
def test_if_the_path_has_a_trailing_slash_or_not_then_usage_answers(client, path):
    assert client.get(path).status_code == 200


def test_if_no_key_is_sent_then_usage_is_refused_and_not_audited(db):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == ErrorCode.MISSING_API_KEY
    assert not Consultation.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_if_the_method_is_not_get_then_usage_answers_method_not_allowed(client, method):
    response = getattr(client, method)(URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == ErrorCode.METHOD_NOT_ALLOWED


def test_if_the_key_was_revoked_elsewhere_then_usage_refuses_it(client, usage_key):
    client.get(URL)
    key = usage_key[0]
    ApiKey.objects.filter(pk=key.pk).update(revoked=True, revoked_at=timezone.now(), version=2)
    rate_limits.announce_key_versions({key.prefix: 2})

    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == ErrorCode.API_KEY_REVOKED


def test_if_the_counters_are_unavailable_then_usage_says_it_counts_this_instance_only(
    client, settings
):
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["counted"] == "this_instance_only"
