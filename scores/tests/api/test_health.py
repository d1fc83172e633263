"""GET /api/v1/health: for load balancers and Zappa's keep-warm."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from rest_framework.test import APIClient

from devstack.faults import faulty_endpoint, garbage, http_response, silent
from devstack.services import free_port
from scores.cache import score_cache
from scores.tests.fixtures import EXAMPLE_CPF

URL = "/api/v1/health"


def test_if_everything_answers_then_health_is_ok(db, score_table):
    response = APIClient().get(URL)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "score_cache": "ok"}


def test_if_the_cache_is_down_then_health_is_degraded_but_200(db, settings):
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    response = APIClient().get(URL)

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "score_cache": "unavailable"}


@pytest.mark.django_db(transaction=True)
def test_if_the_database_is_down_then_health_is_503_without_details(score_table, settings):
    from django.db import connection

    connection.close()
    original = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = APIClient().get(URL)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "score_cache": "ok",
    }


def test_if_health_is_asked_with_head_then_it_answers_without_a_body(db, score_table):
    response = APIClient().head(URL)

    assert response.status_code == 200
    assert response.content == b""


@contextmanager
def broken_cache(kind, settings):
    """Point the score cache at a DynamoDB that fails in the given way."""
    if kind == "missing-table":
        settings.SCORE_CACHE_TABLE = "scores-test-no-such-table"
        yield
    elif kind == "unreachable":
        settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
        yield
    else:
        behaviour = {
            "never-answers": silent,
            "garbage": garbage,
            "html-500": lambda n: http_response(500, b"<html>bad gateway</html>"),
            "not-dynamodb": lambda n: http_response(200, b"<html>captive portal</html>"),
        }[kind]
        with faulty_endpoint(behaviour) as endpoint:
            settings.DYNAMODB_ENDPOINT_URL = endpoint.url
            yield


CACHE_FAILURES = [
    "missing-table",
    "unreachable",
    "never-answers",
    "garbage",
    "html-500",
    "not-dynamodb",
]


@pytest.mark.parametrize("kind", CACHE_FAILURES)
def test_if_the_cache_fails_in_any_way_then_health_says_so_and_scores_are_computed(
    kind, settings, client_with_key, make_profile, log_output
):
    make_profile()
    with broken_cache(kind, settings):
        health = APIClient().get(URL)
        score_cache.cool_down.reset()  # the score request must meet the failure too
        score = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")

    assert (health.status_code, health.json()["score_cache"]) == (200, "unavailable")
    assert (score.status_code, score.json()["source"]) == (200, "computed")
    warnings = [line["message"] for line in log_output() if line["level"] == "WARNING"]
    assert "score cache health check failed; skipping the cache for 5.0s" in warnings
    assert "score cache read failed; skipping the cache for 5.0s" in warnings
