"""The DynamoDB score cache against the local moto server (real HTTP, real botocore)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import ANY

import pytest

from devstack.faults import answers_then_silent, faulty_endpoint, garbage, http_response, silent
from devstack.services import free_port
from scores.cache import score_cache
from scores.cache.score_cache import CachedScore

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
    return dynamodb.get_item(TableName=table, Key={"pk": {"S": CPF_HASH}}, ConsistentRead=True).get(
        "Item"
    )


def test_if_a_score_is_put_then_get_returns_it_unchanged(score_table):
    score_cache.put(CPF_HASH, cached(), generation=0)

    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached()


def test_if_nothing_is_cached_then_get_is_a_miss(score_table):
    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_an_item_is_stored_then_it_carries_the_ttl_attribute(score_table, dynamodb, settings):
    before = int(time.time())
    score_cache.put(CPF_HASH, cached(), generation=0)

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
    score_cache.put(CPF_HASH, cached(), generation=0)
    assert stored_item(dynamodb, score_table) is not None

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_the_item_was_computed_by_another_scorecard_then_get_is_a_miss(score_table):
    score_cache.put(CPF_HASH, cached(model_version="2025.9"), generation=0)

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_the_profile_changed_then_invalidation_turns_the_item_into_a_miss(score_table, dynamodb):
    score_cache.put(CPF_HASH, cached(profile_version=3), generation=0)

    failed = score_cache.invalidate({CPF_HASH: 4})

    assert failed == 0
    assert score_cache.get(CPF_HASH, model_version="2026.1") is None
    assert stored_item(dynamodb, score_table)["profile_version"] == {"N": "4"}


def test_if_a_stale_score_is_put_after_invalidation_then_it_is_not_stored(score_table):
    score_cache.invalidate({CPF_HASH: 4})

    score_cache.put(
        CPF_HASH, cached(profile_version=3), generation=0
    )  # computed from the old profile

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None


def test_if_a_score_of_the_new_profile_is_put_after_invalidation_then_it_is_stored(score_table):
    score_cache.invalidate({CPF_HASH: 4})

    score_cache.put(CPF_HASH, cached(profile_version=4), generation=0)

    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached(profile_version=4)


def test_if_many_profiles_change_then_all_are_invalidated_in_batches(score_table):
    hashes = {f"{n:064x}": 2 for n in range(60)}  # three BatchWriteItem calls
    for cpf_hash in hashes:
        score_cache.put(cpf_hash, cached(profile_version=1), generation=0)

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
    score_cache.put(CPF_HASH, cached(), generation=0)

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None
    assert score_cache.ping() is False


def test_if_dynamodb_failed_then_the_cache_is_skipped_during_the_cool_down(
    unreachable_dynamodb, dynamodb_calls
):
    score_cache.get(CPF_HASH, model_version="2026.1")
    sent_before_the_cool_down = list(dynamodb_calls)

    score_cache.get(CPF_HASH, model_version="2026.1")
    score_cache.put(CPF_HASH, cached(), generation=0)

    assert sent_before_the_cool_down == ["BatchGetItem"] * 2  # two attempts, then give up
    assert dynamodb_calls == sent_before_the_cool_down


def test_if_the_cool_down_is_over_then_the_cache_is_tried_again(
    unreachable_dynamodb, dynamodb_calls, monotonic
):
    unreachable_dynamodb.DYNAMODB_FAILURE_COOLDOWN_SECONDS = 5
    score_cache.get(CPF_HASH, model_version="2026.1")
    monotonic.advance(4.9)
    score_cache.get(CPF_HASH, model_version="2026.1")  # still cooling down: not sent
    monotonic.advance(0.2)

    score_cache.get(CPF_HASH, model_version="2026.1")

    assert dynamodb_calls == ["BatchGetItem"] * 4  # two calls of two attempts each


def test_if_dynamodb_is_unreachable_then_invalidation_reports_every_failure(unreachable_dynamodb):
    assert score_cache.invalidate({CPF_HASH: 2, "b" * 64: 5}) == 2


# ---------------------------------------------------------------------------------------
# Every kind of failure is a miss, logged; none raises
# ---------------------------------------------------------------------------------------
def warnings_logged(log_output):
    return [
        (line["message"], line.get("error")) for line in log_output() if line["level"] == "WARNING"
    ]


def test_if_the_table_does_not_exist_then_get_is_a_logged_miss(settings, log_output):
    settings.SCORE_CACHE_TABLE = "scores-test-no-such-table"

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None
    score_cache.put(CPF_HASH, cached(), generation=0)

    assert warnings_logged(log_output)[0] == (
        "score cache read failed; skipping the cache for 5.0s",
        "ResourceNotFoundException",
    )


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"score": {"S": "high"}}, id="wrong-type"),
        pytest.param({"score": {"N": "700"}, "expires_at": {"N": "9999999999"}}, id="incomplete"),
        pytest.param(
            {
                "score": {"N": "700"},
                "band": {"S": "good"},
                "probability_of_default": {"N": "0.01"},
                "reason_codes": {"S": "R01"},
                "model_version": {"S": "2026.1"},
                "profile_version": {"N": "1"},
                "computed_at": {"S": "yesterday"},
                "expires_at": {"N": "9999999999"},
            },
            id="foreign-values",
        ),
    ],
)
def test_if_an_item_has_a_foreign_shape_then_get_is_a_logged_miss(
    score_table, dynamodb, log_output, item
):
    dynamodb.put_item(TableName=score_table, Item={"pk": {"S": CPF_HASH}, **item})

    assert score_cache.get(CPF_HASH, model_version="2026.1") is None

    assert warnings_logged(log_output) == [
        ("score cache item of an unexpected shape; treated as a miss", ANY)
    ]


GARBAGE_ANSWERS = [
    pytest.param(garbage, "UnicodeDecodeError", id="not-utf8"),
    pytest.param(
        lambda n: http_response(200, b"<html>captive portal</html>"),
        "NotADynamoDBAnswer",
        id="html-200",
    ),
    pytest.param(lambda n: http_response(200, b"[1, 2, 3]"), "AttributeError", id="json-list"),
    pytest.param(lambda n: http_response(500, b"<html>proxy error</html>"), "500", id="html-500"),
    pytest.param(
        lambda n: http_response(200, b"{}", "application/x-amz-json-1.0", "x-amz-crc32: 1\r\n"),
        "ChecksumError",
        id="crc32-mismatch",
    ),
]


@pytest.mark.parametrize(("behaviour", "logged_error"), GARBAGE_ANSWERS)
def test_if_the_endpoint_answers_garbage_then_each_operation_is_a_logged_failure(
    settings, log_output, behaviour, logged_error
):
    with faulty_endpoint(behaviour) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url

        assert score_cache.ping() is False
        score_cache.cool_down.reset()
        assert score_cache.get(CPF_HASH, model_version="2026.1") is None
        score_cache.cool_down.reset()
        score_cache.put(CPF_HASH, cached(), generation=0)
        failed = score_cache.invalidate({CPF_HASH: 2})

    assert failed == 1
    assert warnings_logged(log_output) == [
        (f"score cache {operation} failed; skipping the cache for 5.0s", logged_error)
        for operation in ("health check", "read", "write", "invalidation")
    ]


def test_if_the_endpoint_never_answers_then_a_read_gives_up_after_two_attempts(settings):
    with faulty_endpoint(silent) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url
        started = time.monotonic()

        assert score_cache.get(CPF_HASH, model_version="2026.1") is None

        elapsed = time.monotonic() - started
        assert len(endpoint.requests) == 2
    # Two read timeouts (0.3 s each) and botocore's back-off for DynamoDB (at most 25 ms).
    assert elapsed < 2 * settings.DYNAMODB_READ_TIMEOUT_SECONDS + 0.3


def test_if_the_endpoint_answers_once_then_goes_silent_then_the_next_read_makes_two_attempts(
    settings,
):
    with faulty_endpoint(answers_then_silent(1)) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url
        assert score_cache.get(CPF_HASH, model_version="2026.1") is None  # answered: no item
        assert score_cache.cool_down.active() is False

        assert score_cache.get(CPF_HASH, model_version="2026.1") is None  # silent now

        assert len(endpoint.requests) == 1 + 2
        assert score_cache.cool_down.active() is True


# ---------------------------------------------------------------------------------------
# Many items: BatchGetItem and BatchWriteItem
# ---------------------------------------------------------------------------------------
def test_if_many_scores_are_asked_then_one_batch_read_answers_each(score_table, dynamodb_calls):
    score_cache.put("1" * 64, cached(score=700), generation=0)
    score_cache.put("2" * 64, cached(model_version="2025.9"), generation=0)
    score_cache.invalidate({"3" * 64: 4})
    dynamodb_calls.clear()

    found = score_cache.get_many(["1" * 64, "2" * 64, "3" * 64, "4" * 64], model_version="2026.1")

    assert found == {"1" * 64: cached(score=700), "2" * 64: None, "3" * 64: None, "4" * 64: None}
    assert dynamodb_calls == ["BatchGetItem"]


def test_if_more_than_100_keys_are_read_then_they_take_one_batch_read_per_100(
    score_table, dynamodb_calls
):
    hashes = [f"{n:064x}" for n in range(101)]
    score_cache.put_many({cpf_hash: cached() for cpf_hash in hashes}, generation=0)
    dynamodb_calls.clear()

    found = score_cache.get_many(hashes, model_version="2026.1")

    assert set(found.values()) == {cached()}
    assert dynamodb_calls == ["BatchGetItem", "BatchGetItem"]


def test_if_items_are_read_by_key_then_any_item_of_the_table_can_be_asked(score_table, dynamodb):
    # Not only scores: the read is general (a list of keys in, items by key out).
    dynamodb.put_item(TableName=score_table, Item={"pk": {"S": "meta#generation"}, "n": {"N": "7"}})
    score_cache.put(CPF_HASH, cached(), generation=0)

    items = score_cache.read_items(["meta#generation", CPF_HASH, "b" * 64])

    assert set(items) == {"meta#generation", CPF_HASH}
    assert items["meta#generation"]["n"] == {"N": "7"}


def test_if_many_scores_are_put_then_each_is_stored_25_a_call(score_table, dynamodb_calls):
    scores = {f"{n:064x}": cached(score=n) for n in range(30)}

    assert score_cache.put_many(scores, generation=0) is True

    assert dynamodb_calls == ["BatchWriteItem", "BatchWriteItem"]
    assert score_cache.get_many(list(scores), model_version="2026.1") == scores


def test_if_dynamodb_is_unreachable_then_many_scores_are_misses_and_nothing_is_written(
    unreachable_dynamodb, dynamodb_calls, log_output
):
    found = score_cache.get_many(["1" * 64, "2" * 64], model_version="2026.1")
    written = score_cache.put_many({"1" * 64: cached()}, generation=0)

    assert (found, written) == ({"1" * 64: None, "2" * 64: None}, False)
    assert dynamodb_calls == ["BatchGetItem", "BatchGetItem"]  # two attempts, then cool-down
    assert warnings_logged(log_output) == [
        ("score cache read failed; skipping the cache for 5.0s", "EndpointConnectionError")
    ]


@pytest.mark.parametrize(("behaviour", "logged_error"), GARBAGE_ANSWERS)
def test_if_the_endpoint_answers_garbage_then_batch_operations_are_logged_failures(
    settings, log_output, behaviour, logged_error
):
    with faulty_endpoint(behaviour) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url

        found = score_cache.get_many(["1" * 64, "2" * 64], model_version="2026.1")
        score_cache.cool_down.reset()
        written = score_cache.put_many({"1" * 64: cached(), "2" * 64: cached()}, generation=0)

    assert (set(found.values()), written) == ({None}, False)
    assert warnings_logged(log_output) == [
        (f"score cache {operation} failed; skipping the cache for 5.0s", logged_error)
        for operation in ("read", "write")
    ]


def test_if_a_score_carries_its_bins_then_the_item_keeps_them_as_one_small_attribute(
    score_table, dynamodb
):
    score_cache.put(CPF_HASH, cached(bins=(0, 3, 1)), generation=0)

    assert stored_item(dynamodb, score_table)["bins"] == {"S": "0,3,1"}
    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached(bins=(0, 3, 1))


def test_if_an_item_was_cached_before_bins_were_kept_then_it_is_a_hit_without_them(
    score_table, dynamodb
):
    score_cache.put(CPF_HASH, cached(), generation=0)
    assert "bins" not in stored_item(dynamodb, score_table)

    assert score_cache.get(CPF_HASH, model_version="2026.1") == cached(bins=())
