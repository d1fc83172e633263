"""Batch calls that DynamoDB only partly processes (throttling): what is left is sent again.

BatchGetItem may answer some keys and return the rest as UnprocessedKeys; BatchWriteItem
may return UnprocessedItems. moto never does, so an endpoint on loopback answers the way
DynamoDB does under throttling (JSON with its CRC32, through the real botocore client).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.faults import dynamodb_response, faulty_endpoint
from scores.cache import score_cache
from scores.tests.cache.test_score_cache import cached

TABLE = "scores-throttled"
FIRST, SECOND = "a" * 64, "b" * 64


def item(key: str) -> dict[str, object]:
    return {"pk": {"S": key}, "profile_version": {"N": "1"}}


def answers(*bodies: dict[str, object]):
    """Answer the n-th request with the n-th body, the last one from then on."""

    def behaviour(n: int) -> bytes:
        return dynamodb_response(json.dumps(bodies[min(n, len(bodies) - 1)]).encode())

    return behaviour


def sent(request: bytes) -> Any:
    return json.loads(request.partition(b"\r\n\r\n")[2])


@pytest.fixture(autouse=True)
def _table(settings):
    settings.SCORE_CACHE_TABLE = TABLE


def test_if_a_batch_read_leaves_keys_unprocessed_then_only_those_are_asked_again(settings):
    behaviour = answers(
        {
            "Responses": {TABLE: [item(FIRST)]},
            "UnprocessedKeys": {TABLE: {"Keys": [{"pk": {"S": SECOND}}]}},
        },
        {"Responses": {TABLE: [item(SECOND)]}, "UnprocessedKeys": {}},
    )
    with faulty_endpoint(behaviour) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url

        items = score_cache.read_items([FIRST, SECOND])

    assert set(items) == {FIRST, SECOND}
    assert len(endpoint.requests) == 2
    asked_again = sent(endpoint.requests[1])["RequestItems"][TABLE]["Keys"]
    assert asked_again == [{"pk": {"S": SECOND}}]


def test_if_keys_stay_unprocessed_then_they_are_misses_after_three_rounds(settings, log_output):
    still = {
        "Responses": {TABLE: []},
        "UnprocessedKeys": {TABLE: {"Keys": [{"pk": {"S": SECOND}}]}},
    }
    with faulty_endpoint(answers(still)) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url

        items = score_cache.read_items([SECOND])

    assert items == {}
    assert len(endpoint.requests) == 3
    assert [r["message"] for r in log_output() if r["level"] == "WARNING"] == [
        "score cache batch read left keys unprocessed; treated as misses"
    ]


def test_if_a_batch_write_leaves_items_unprocessed_then_only_those_are_written_again(settings):
    scores = {FIRST: cached(), SECOND: cached()}
    with faulty_endpoint(answers({"UnprocessedItems": {}})) as probe:
        settings.DYNAMODB_ENDPOINT_URL = probe.url
        score_cache.put_many(scores, generation=0)
        first_sent = sent(probe.requests[0])["RequestItems"][TABLE]
    left = [request for request in first_sent if request["PutRequest"]["Item"]["pk"]["S"] == SECOND]

    behaviour = answers({"UnprocessedItems": {TABLE: left}}, {"UnprocessedItems": {}})
    with faulty_endpoint(behaviour) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url

        written = score_cache.put_many(scores, generation=0)

    assert written is True
    assert len(endpoint.requests) == 2
    assert sent(endpoint.requests[1])["RequestItems"][TABLE] == left
