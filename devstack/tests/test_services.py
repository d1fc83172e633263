"""The local stack itself: `make test` must cope on a laptop with no Postgres running."""

from __future__ import annotations

import tempfile
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psycopg2
import pytest
from botocore.config import Config

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
