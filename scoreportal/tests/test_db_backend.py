"""Persistent connections: checked after idling, not before every request."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import connection, connections


@pytest.fixture
def health_checks(monkeypatch):
    """How often Django's health check (is_usable: a SELECT 1 round trip) runs."""
    calls = []
    original = connection.is_usable

    def counted():
        calls.append(True)
        return original()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def next_request():
    """What Django does between requests (request_finished / request_started)."""
    connection.close_if_unusable_or_obsolete()


def query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_if_postgres_is_used_then_it_is_our_backend():
    assert type(connections["default"]).__module__ == "scoreportal.db.postgresql.base"


@pytest.mark.django_db(transaction=True)
def test_if_the_connection_served_a_request_moments_ago_then_it_is_not_checked(health_checks):
    query()
    next_request()

    query()

    assert health_checks == []


@pytest.mark.django_db(transaction=True)
def test_if_the_connection_idled_and_died_then_the_check_replaces_it(health_checks, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 0  # any pause counts as idle
    query()
    killer = psycopg2.connect(
        dbname=connection.settings_dict["NAME"],
        user=connection.settings_dict["USER"],
        host=connection.settings_dict["HOST"],
        port=connection.settings_dict["PORT"],
    )
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    killer.close()
    next_request()

    query()  # would raise OperationalError on the dead connection

    assert health_checks == [True]
