"""The DynamoDB score cache against the local moto server (real HTTP, real botocore)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from devstack.services import free_port
from scores import score_cache
from scores.score_cache import CachedScore

CPF_HASH = "a" * 64


def cached(**overrides):
    values = {
        "score": 742,
        "band": "excellent",
        "probability_of_default": Decimal("0.0123"),
        "reason_codes": ("R06", "R07"),
        "model_version": "2026.1",
        "profile_version": 3,
        "computed_at": datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    }
    return CachedScore(**{**values, **overrides})


def stored_item(dynamodb, table):
    """The item as DynamoDB holds it, read with boto3 (not through score_cache)."""
    return dynamodb.get_item(
        TableName=table, Key={"pk": {"S": CPF_HASH}}, ConsistentRead=True
    ).get("Item")


def test_if_a_score_is_put_then_get_returns_it_unchanged(score_table):
    score_cache.put(CPF_HASH, cached())

    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached()


def test_if_nothing_is_cached_then_get_is_a_miss(score_table):
    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_an_item_is_stored_then_it_carries_the_ttl_attribute(score_table, dynamodb, settings):
    before = int(time.time())
    score_cache.put(CPF_HASH, cached())

    expires_at = int(stored_item(dynamodb, score_table)["expires_at"]["N"])
    assert (
        before + settings.SCORE_CACHE_TTL_SECONDS
        <= expires_at
        <= time.time() + settings.SCORE_CACHE_TTL_SECONDS
    )


def test_if_the_item_has_expired_but_not_been_deleted_then_get_is_a_miss(
    score_table, dynamodb, settings
):
    settings.SCORE_CACHE_TTL_SECONDS = -1  # DynamoDB deletes expired items lazily
    score_cache.put(CPF_HASH, cached())
    assert stored_item(dynamodb, score_table) is not None

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_the_item_was_computed_by_another_scorecard_then_get_is_a_miss(score_table):
    score_cache.put(CPF_HASH, cached(model_version="2025.9"))

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_the_profile_changed_then_invalidation_turns_the_item_into_a_miss(score_table, dynamodb):
    score_cache.put(CPF_HASH, cached(profile_version=3))

    failed = score_cache.invalidate({CPF_HASH: 4})

    assert failed == 0
    assert score_cache.get(CPF_HASH, model_version="2026.1") is None
    assert stored_item(dynamodb, score_table)["profile_version"] == {"N": "4"}


def test_if_a_stale_score_is_put_after_invalidation_then_it_is_not_stored(score_table):
    score_cache.invalidate({CPF_HASH: 4})

    score_cache.put(CPF_HASH, cached(profile_version=3))  # computed from the old profile

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_a_score_of_the_new_profile_is_put_after_invalidation_then_it_is_stored(score_table):
    score_cache.invalidate({CPF_HASH: 4})

    score_cache.put(CPF_HASH, cached(profile_version=4))

    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached(profile_version=4)


def test_if_many_profiles_change_then_all_are_invalidated_in_batches(score_table):
    hashes = {f"{n:064x}": 2 for n in range(60)}  # three BatchWriteItem calls
    for cpf_hash in hashes:
        score_cache.put(cpf_hash, cached(profile_version=1))

    assert score_cache.invalidate(hashes) == 0
    assert all(score_cache.get(h, model_version="2026.1") is None for h in hashes)


def test_if_ensure_table_runs_twice_then_the_second_run_changes_nothing(score_table, dynamodb):
    assert score_cache.ensure_table() is False

    description = dynamodb.describe_table(TableName=score_table)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=score_table)
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_if_the_table_is_missing_then_ensure_table_creates_it(settings, dynamodb):
    settings.SCORE_CACHE_TABLE = "scores-test-created-here"
    try:
        assert score_cache.ensure_table() is True
        assert score_cache.ping() is True
        assert (
            dynamodb.describe_table(TableName="scores-test-created-here")["Table"]["TableStatus"]
            == "ACTIVE"
        )
    finally:
        dynamodb.delete_table(TableName="scores-test-created-here")


@pytest.fixture
def unreachable_dynamodb(settings):
    """Point the cache at a loopback port nobody listens on."""
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    return settings


def test_if_dynamodb_is_unreachable_then_get_and_put_fail_quietly(unreachable_dynamodb):
    score_cache.put(CPF_HASH, cached())

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None
    assert score_cache.ping() is False


def test_if_dynamodb_failed_then_the_cache_is_skipped_during_the_cool_down(
    unreachable_dynamodb, dynamodb_calls
):
    score_cache.get(CPF_HASH, model_version="2026.1")
    calls_after_failure = len(dynamodb_calls)

    score_cache.get(CPF_HASH, model_version="2026.1")
    score_cache.put(CPF_HASH, cached())

    assert calls_after_failure == 1
    assert len(dynamodb_calls) == 1


def test_if_the_cool_down_is_over_then_the_cache_is_tried_again(
    unreachable_dynamodb, dynamodb_calls
):
    unreachable_dynamodb.DYNAMODB_FAILURE_COOLDOWN_SECONDS = 0.05
    score_cache.get(CPF_HASH, model_version="2026.1")
    time.sleep(0.1)

    score_cache.get(CPF_HASH, model_version="2026.1")

    assert dynamodb_calls == ["GetItem", "GetItem"]


def test_if_dynamodb_is_unreachable_then_invalidation_reports_every_failure(unreachable_dynamodb):
    assert score_cache.invalidate({CPF_HASH: 2, "b" * 64: 5}) == 2
