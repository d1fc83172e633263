"""GET /api/v1/health: for load balancers and Zappa's keep-warm."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devstack.services import free_port

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
