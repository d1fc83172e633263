"""The DynamoDB score cache: the one module that reads and writes cached scores (SPEC §6).

Cache-aside, keyed by the CPF's lookup hash. An item holds a computed score with the
scorecard version and profile version it came from, and `expires_at` (epoch seconds), the
table's TTL attribute. A read is a miss when the item has expired (DynamoDB deletes expired
items lazily, sometimes days late), when it was computed with another scorecard, or when it
is a tombstone left by `invalidate`. The table also holds the per-key counters
(accounts/rate_limits.py), under keys that cannot be a CPF hash (`key#<prefix>`).

Invalidation writes a tombstone carrying the profile's new version instead of deleting,
and `put` is conditional on the stored profile version not being newer: a request that read
the profile just before an import cannot put its stale score back afterwards. `put_many`
(BatchWriteItem) cannot be conditional, so its caller re-checks the profile versions after
writing and invalidates what changed meanwhile (scores.services.scoring does).

One score is read with GetItem, many with BatchGetItem (`read_items`: a list of keys in,
the items found by key out, unprocessed keys retried with back-off).

DynamoDB is an optimisation, never a dependency. Calls go through the process's boto3
client and `aws_clients.dynamodb_call` (short timeouts, at most two attempts; every kind of
failure is one exception: an error botocore raises or DynamoDB answers, an answer that
cannot be parsed, an answer that is not DynamoDB's at all). A failure, or an item of the
wrong shape, is logged and treated as a miss; after a failed call the cache is skipped for
a cool-down period, so an unreachable endpoint costs one timeout, not one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from scoreportal import aws_clients
from scoreportal.aws_clients import CoolDown, DynamoDBCallFailed, dynamodb_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        WriteRequestTypeDef,
    )

logger = logging.getLogger(__name__)

# The table is keyed by `pk` (a string): a score item's is the CPF's lookup hash.
KEY_ATTRIBUTE = "pk"
TTL_ATTRIBUTE = "expires_at"
# BatchWriteItem takes at most 25 requests, BatchGetItem at most 100 keys.
_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100
# Rounds of a batch call when DynamoDB leaves items unprocessed (throttling), with back-off.
_BATCH_ATTEMPTS = 3
_HEALTH_CHECK_KEY = "__health_check__"
_TABLE_READY_TIMEOUT_SECONDS = 60.0

# What decoding an item of an unexpected shape raises.
_DECODE_FAILURES = (KeyError, TypeError, ValueError, ArithmeticError)

Item = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CachedScore:
    """A computed score as the cache stores it."""

    score: int
    band: str
    probability_of_default: Decimal
    reason_codes: tuple[str, ...]
    model_version: str
    profile_version: int
    computed_at: datetime


cool_down = CoolDown()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    """A new endpoint (tests, override_settings) starts without a cool-down."""
    if setting.startswith("DYNAMODB_") or setting in ("AWS_REGION", "SCORE_CACHE_TABLE"):
        cool_down.reset()


def _table() -> str:
    return str(settings.SCORE_CACHE_TABLE)


def _failed(operation: str, exc: DynamoDBCallFailed) -> None:
    seconds = float(settings.DYNAMODB_FAILURE_COOLDOWN_SECONDS)
    cool_down.start(seconds)
    logger.warning(
        "score cache %s failed; skipping the cache for %.1fs",
        operation,
        seconds,
        extra={"fields": {"error": exc.code}},
    )


def available() -> bool:
    """Whether the cache is in use now: not skipped for a cool-down after a failure."""
    return not cool_down.active()


def get(cpf_hash: str, *, model_version: str) -> CachedScore | None:
    """The cached score for `cpf_hash`, or None on a miss, a stale item or any failure."""
    if cool_down.active():
        return None
    try:
        response = dynamodb_call(
            aws_clients.dynamodb().get_item,
            TableName=_table(),
            Key={KEY_ATTRIBUTE: {"S": cpf_hash}},
        )
    except DynamoDBCallFailed as exc:
        _failed("read", exc)
        return None
    item = response.get("Item")
    return None if item is None else _decoded(item, model_version=model_version)


def get_many(cpf_hashes: Sequence[str], *, model_version: str) -> dict[str, CachedScore | None]:
    """The cached score of each of `cpf_hashes` (distinct), None where get() would say None.

    One hash is one GetItem; more are read with BatchGetItem (`read_items`).
    """
    if len(cpf_hashes) == 1:
        return {cpf_hashes[0]: get(cpf_hashes[0], model_version=model_version)}
    found: Mapping[str, Item] = {}
    if cpf_hashes and not cool_down.active():
        try:
            found = read_items(cpf_hashes)
        except DynamoDBCallFailed as exc:
            _failed("read", exc)
    return {
        cpf_hash: _decoded(found[cpf_hash], model_version=model_version)
        if cpf_hash in found
        else None
        for cpf_hash in cpf_hashes
    }


def read_items(keys: Sequence[str]) -> dict[str, Item]:
    """The items stored under `keys` (distinct), by key; a key without an item is absent.

    BatchGetItem, 100 keys a call; keys DynamoDB leaves unprocessed (throttling) are asked
    again with back-off, and after the last round treated as absent (a miss). Raises
    DynamoDBCallFailed when a call fails: the caller decides what that means.
    """
    items: dict[str, Item] = {}
    for chunk in _chunks(list(keys), _BATCH_GET_LIMIT):
        pending: KeysAndAttributesTypeDef = {"Keys": [{KEY_ATTRIBUTE: {"S": key}} for key in chunk]}
        for attempt in range(_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)  # DynamoDB asks for back-off on unprocessed keys
            response = dynamodb_call(
                aws_clients.dynamodb().batch_get_item, RequestItems={_table(): pending}
            )
            for item in response.get("Responses", {}).get(_table(), []):
                items[item[KEY_ATTRIBUTE]["S"]] = item
            unprocessed = response.get("UnprocessedKeys", {}).get(_table())
            if not unprocessed or not unprocessed.get("Keys"):
                break
            pending = unprocessed
        else:
            logger.warning(
                "score cache batch read left keys unprocessed; treated as misses",
                extra={"fields": {"unprocessed": len(pending["Keys"])}},
            )
    return items


def _decoded(item: Item, *, model_version: str) -> CachedScore | None:
    try:
        return _fresh_score(item, model_version=model_version)
    except _DECODE_FAILURES as exc:
        logger.warning(
            "score cache item of an unexpected shape; treated as a miss",
            extra={"fields": {"error": type(exc).__name__}},
        )
        return None


def _fresh_score(item: Item, *, model_version: str) -> CachedScore | None:
    """The item's score, or None for a tombstone, an expired item or another scorecard's."""
    if "score" not in item:  # a tombstone
        return None
    if int(item[TTL_ATTRIBUTE]["N"]) <= time.time():
        return None
    if item["model_version"]["S"] != model_version:
        return None
    return CachedScore(
        score=int(item["score"]["N"]),
        band=str(item["band"]["S"]),
        probability_of_default=Decimal(item["probability_of_default"]["N"]),
        reason_codes=tuple(str(code["S"]) for code in item["reason_codes"]["L"]),
        model_version=str(item["model_version"]["S"]),
        profile_version=int(item["profile_version"]["N"]),
        computed_at=datetime.fromisoformat(item["computed_at"]["S"]),
    )


def _score_item(cpf_hash: str, cached: CachedScore) -> dict[str, AttributeValueTypeDef]:
    return {
        KEY_ATTRIBUTE: {"S": cpf_hash},
        "score": {"N": str(cached.score)},
        "band": {"S": cached.band},
        "probability_of_default": {"N": str(cached.probability_of_default)},
        "reason_codes": {"L": [{"S": code} for code in cached.reason_codes]},
        "model_version": {"S": cached.model_version},
        "profile_version": {"N": str(cached.profile_version)},
        "computed_at": {"S": cached.computed_at.astimezone(UTC).isoformat()},
        TTL_ATTRIBUTE: {"N": str(_expires_at())},
    }


def put(cpf_hash: str, cached: CachedScore) -> None:
    """Store a computed score, unless the cache already knows a newer profile version."""
    if cool_down.active():
        return
    try:
        dynamodb_call(
            aws_clients.dynamodb().put_item,
            TableName=_table(),
            Item=_score_item(cpf_hash, cached),
            ConditionExpression="attribute_not_exists(#key) OR profile_version <= :version",
            ExpressionAttributeNames={"#key": KEY_ATTRIBUTE},
            ExpressionAttributeValues={":version": {"N": str(cached.profile_version)}},
        )
    except DynamoDBCallFailed as exc:
        if exc.code != "ConditionalCheckFailedException":
            _failed("write", exc)
        # else: the profile changed while this score was computed; keep the newer state


def put_many(scores: Mapping[str, CachedScore]) -> bool:
    """Store computed scores with BatchWriteItem (25 a call), unconditionally; returns
    whether any was written (not during a cool-down).

    BatchWriteItem takes no condition: a profile that changed after its score was computed
    may have been invalidated before this write landed. The caller must re-read the profile
    versions afterwards and `invalidate` those that differ (scores.services.scoring does).
    """
    if cool_down.active():
        return False
    written = False
    for chunk in _chunks(list(scores.items()), _BATCH_WRITE_LIMIT):
        requests: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": _score_item(cpf_hash, cached)}} for cpf_hash, cached in chunk
        ]
        failed = _batch_write(requests, operation="write")
        written = written or failed < len(requests)
        if failed:
            break  # the cache is cooling down now: the rest would be skipped too
    return written


def invalidate(profile_versions: Mapping[str, int]) -> int:
    """Replace the cached scores of changed profiles (cpf_hash -> new version) by tombstones.

    Returns how many could not be invalidated; those are served until they expire.
    Invalidation does not honour the cool-down: a data change must always try.
    """
    failed = 0
    expires_at = str(_expires_at())
    for chunk in _chunks(list(profile_versions.items()), _BATCH_WRITE_LIMIT):
        requests: list[WriteRequestTypeDef] = [
            {
                "PutRequest": {
                    "Item": {
                        KEY_ATTRIBUTE: {"S": cpf_hash},
                        "profile_version": {"N": str(version)},
                        TTL_ATTRIBUTE: {"N": expires_at},
                    }
                }
            }
            for cpf_hash, version in chunk
        ]
        failed += _batch_write(requests, operation="invalidation")
    return failed


def _batch_write(requests: Sequence[WriteRequestTypeDef], *, operation: str) -> int:
    """Write a batch, retrying unprocessed items; return how many never got written."""
    pending = list(requests)
    for attempt in range(_BATCH_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * 2**attempt)  # DynamoDB asks for back-off on unprocessed items
        try:
            response = dynamodb_call(
                aws_clients.dynamodb().batch_write_item, RequestItems={_table(): pending}
            )
        except DynamoDBCallFailed as exc:
            _failed(operation, exc)
            return len(pending)
        pending = list(response.get("UnprocessedItems", {}).get(_table(), []))
        if not pending:
            return 0
    return len(pending)


def ensure_table() -> bool:
    """Create the cache table (on-demand billing, TTL on expires_at) if missing.

    Idempotent; returns True when the table was created. Errors propagate: this is an
    operator's command, and a failure must be seen.
    """
    client = aws_clients.dynamodb()
    table = _table()
    created = False
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        created = True
    client.get_waiter("table_exists").wait(
        TableName=table,
        WaiterConfig={"Delay": 1, "MaxAttempts": int(_TABLE_READY_TIMEOUT_SECONDS)},
    )
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    return created


def ping() -> bool:
    """Whether the cache answers a read now (for the health endpoint; ignores the cool-down)."""
    try:
        dynamodb_call(
            aws_clients.dynamodb().get_item,
            TableName=_table(),
            Key={KEY_ATTRIBUTE: {"S": _HEALTH_CHECK_KEY}},
        )
    except DynamoDBCallFailed as exc:
        _failed("health check", exc)
        return False
    cool_down.reset()
    return True


def _expires_at() -> int:
    return int(time.time()) + int(settings.SCORE_CACHE_TTL_SECONDS)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
