"""The DynamoDB score cache: the one module that talks to DynamoDB (SPEC §6).

Cache-aside, keyed by the CPF's lookup hash. An item holds a computed score with the
scorecard version and profile version it came from, and `expires_at` (epoch seconds), the
table's TTL attribute. A read is a miss when the item has expired (DynamoDB deletes expired
items lazily, sometimes days late), when it was computed with another scorecard, or when it
is a tombstone left by `invalidate`.

Invalidation writes a tombstone carrying the profile's new version instead of deleting,
and `put` is conditional on the stored profile version not being newer: a request that read
the profile just before an import cannot put its stale score back afterwards.

DynamoDB is an optimisation, never a dependency: calls have short timeouts and at most two
attempts, every failure is logged and swallowed, and after a failure the cache is skipped
for a cool-down period so that an unreachable endpoint costs one timeout, not one per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from scoreportal.aws import AwsError, JsonProtocolClient

logger = logging.getLogger(__name__)

# The table is keyed by `pk` (a string): a score item's is the CPF's lookup hash.
KEY_ATTRIBUTE = "pk"
TTL_ATTRIBUTE = "expires_at"
# BatchWriteItem takes at most 25 requests.
_BATCH_WRITE_LIMIT = 25
_HEALTH_CHECK_KEY = "__health_check__"
_CLIENT_SETTINGS = (
    "DYNAMODB_ENDPOINT_URL",
    "AWS_REGION",
    "DYNAMODB_CONNECT_TIMEOUT_SECONDS",
    "DYNAMODB_READ_TIMEOUT_SECONDS",
    "DYNAMODB_MAX_ATTEMPTS",
)

Item = dict[str, dict[str, Any]]


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


class _CoolDown:
    """After a failure, report the cache unavailable for a while instead of calling it."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self, seconds: float) -> None:
        with self._lock:
            self._until = time.monotonic() + seconds

    def reset(self) -> None:
        with self._lock:
            self._until = 0.0


_cool_down = _CoolDown()


def client() -> JsonProtocolClient:
    """The process's DynamoDB client (created once; thread-safe)."""
    return _client(
        settings.DYNAMODB_ENDPOINT_URL,
        settings.AWS_REGION,
        settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS,
        settings.DYNAMODB_READ_TIMEOUT_SECONDS,
        settings.DYNAMODB_MAX_ATTEMPTS,
    )


@lru_cache(maxsize=4)
def _client(
    endpoint_url: str | None,
    region: str,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
) -> JsonProtocolClient:
    return JsonProtocolClient(
        service="dynamodb",
        target_prefix="DynamoDB_20120810",
        json_version="1.0",
        region=region,
        endpoint_url=endpoint_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
    )


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    """A new endpoint (tests, override_settings) starts with a new client and no cool-down."""
    if setting in _CLIENT_SETTINGS:
        _client.cache_clear()
    if setting in (*_CLIENT_SETTINGS, "DYNAMODB_FAILURE_COOLDOWN_SECONDS"):
        _cool_down.reset()


def _table() -> str:
    return str(settings.SCORE_CACHE_TABLE)


def _failed(operation: str, exc: AwsError) -> None:
    cool_down = float(settings.DYNAMODB_FAILURE_COOLDOWN_SECONDS)
    _cool_down.start(cool_down)
    logger.warning(
        "score cache %s failed; skipping the cache for %.1fs",
        operation,
        cool_down,
        extra={"fields": {"error": exc.code}},
    )


def get(cpf_hash: str, *, model_version: str) -> CachedScore | None:
    """The cached score for `cpf_hash`, or None on a miss, a stale item or any failure."""
    if _cool_down.active():
        return None
    try:
        response = client().call(
            "GetItem", {"TableName": _table(), "Key": {KEY_ATTRIBUTE: {"S": cpf_hash}}}
        )
    except AwsError as exc:
        _failed("read", exc)
        return None
    item = response.get("Item")
    if item is None or "score" not in item:  # absent, or a tombstone
        return None
    if int(item[TTL_ATTRIBUTE]["N"]) <= time.time():
        return None
    if item["model_version"]["S"] != model_version:
        return None
    return CachedScore(
        score=int(item["score"]["N"]),
        band=item["band"]["S"],
        probability_of_default=Decimal(item["probability_of_default"]["N"]),
        reason_codes=tuple(code["S"] for code in item["reason_codes"]["L"]),
        model_version=item["model_version"]["S"],
        profile_version=int(item["profile_version"]["N"]),
        computed_at=datetime.fromisoformat(item["computed_at"]["S"]),
    )


def put(cpf_hash: str, cached: CachedScore) -> None:
    """Store a computed score, unless the cache already knows a newer profile version."""
    if _cool_down.active():
        return
    item: Item = {
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
    try:
        client().call(
            "PutItem",
            {
                "TableName": _table(),
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#key) OR profile_version <= :version",
                "ExpressionAttributeNames": {"#key": KEY_ATTRIBUTE},
                "ExpressionAttributeValues": {":version": {"N": str(cached.profile_version)}},
            },
        )
    except AwsError as exc:
        if exc.code == "ConditionalCheckFailedException":
            return  # the profile changed while this score was computed: keep the newer state
        _failed("write", exc)


def invalidate(profile_versions: Mapping[str, int]) -> int:
    """Replace the cached scores of changed profiles (cpf_hash -> new version) by tombstones.

    Returns how many could not be invalidated; those are served until they expire.
    Invalidation does not honour the cool-down: a data change must always try.
    """
    failed = 0
    expires_at = str(_expires_at())
    for chunk in _chunks(list(profile_versions.items()), _BATCH_WRITE_LIMIT):
        requests: list[dict[str, Any]] = [
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
        failed += _batch_write(requests)
    return failed


def _batch_write(requests: list[dict[str, Any]], attempts: int = 3) -> int:
    """Write a batch, retrying unprocessed items; return how many never got written."""
    for attempt in range(attempts):
        try:
            response = client().call("BatchWriteItem", {"RequestItems": {_table(): requests}})
        except AwsError as exc:
            _failed("invalidation", exc)
            return len(requests)
        requests = list(response.get("UnprocessedItems", {}).get(_table(), []))
        if not requests:
            return 0
        time.sleep(0.05 * 2**attempt)
    return len(requests)


def ensure_table(timeout: float = 60.0) -> bool:
    """Create the cache table (on-demand billing, TTL on expires_at) if missing.

    Idempotent; returns True when the table was created. Errors propagate: this is an
    operator's command, and a failure must be seen.
    """
    dynamodb = client()
    table = {"TableName": _table()}
    created = False
    try:
        status = dynamodb.call("DescribeTable", table)["Table"]["TableStatus"]
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        dynamodb.call(
            "CreateTable",
            {
                **table,
                "AttributeDefinitions": [{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )
        created = True
        status = dynamodb.call("DescribeTable", table)["Table"]["TableStatus"]
    deadline = time.monotonic() + timeout
    while status != "ACTIVE":
        if time.monotonic() > deadline:
            raise AwsError("Timeout", f"table {_table()} is still {status}")
        time.sleep(1)
        status = dynamodb.call("DescribeTable", table)["Table"]["TableStatus"]
    ttl = dynamodb.call("DescribeTimeToLive", table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.call(
            "UpdateTimeToLive",
            {
                **table,
                "TimeToLiveSpecification": {"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            },
        )
    return created


def ping() -> bool:
    """Whether the cache answers a read now (for the health endpoint; ignores the cool-down)."""
    try:
        client().call(
            "GetItem", {"TableName": _table(), "Key": {KEY_ATTRIBUTE: {"S": _HEALTH_CHECK_KEY}}}
        )
    except AwsError as exc:
        _failed("health check", exc)
        return False
    _cool_down.reset()
    return True


def _expires_at() -> int:
    return int(time.time()) + int(settings.SCORE_CACHE_TTL_SECONDS)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
