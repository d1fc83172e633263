"""The local stack itself: `make test` must cope on a laptop with no Postgres running."""

from __future__ import annotations

import tempfile
import urllib.request
from pathlib import Path

import psycopg2
import pytest

from devstack.services import ensure_database, moto_server, throwaway_postgres


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

    assert (name, version.split()[0]) == ("scoreportal", "PostgreSQL")
    assert len(during) == 1
    assert not (set(clusters("scoreportal-pg-*")) - before)


def test_if_a_moto_server_is_started_then_it_answers_and_stops_afterwards():
    with moto_server() as url:
        status = _get_status(f"{url}/moto-api/data.json")
    assert status == 200
    with pytest.raises(urllib.error.URLError, match="refused"):
        _get_status(f"{url}/moto-api/data.json")


def _get_status(url):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback http)
        return response.status
