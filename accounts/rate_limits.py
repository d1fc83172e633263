"""Per-key rate limits and daily quotas, counted across every instance.

The one module that reads and writes the per-key counter items (DynamoDB, in the score
cache's table under `key#<prefix>`): one conditional UpdateItem a request, the key's
version carried back with it, and a per-process fallback when DynamoDB fails. How and why:
docs/architecture.md, "Per-key limits, key versions and the hot path".
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from scoreportal import aws_clients
from scoreportal.aws_clients import DynamoDBCallFailed, dynamodb_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

logger = logging.getLogger(__name__)

# The quota day is São Paulo's, whatever the servers' time zone.
QUOTA_TIME_ZONE = ZoneInfo("America/Sao_Paulo")
COUNTER_KEY_PREFIX = "key#"
_KEY_ATTRIBUTE = "pk"
_TTL_ATTRIBUTE = "expires_at"
# A counter item outlives its quota day by this much (DynamoDB's TTL deletion is lazy anyway).
_RETENTION_AFTER_DAY = timedelta(hours=1)
_CONDITION_FAILED = "ConditionalCheckFailedException"
# Rounds of "count, else open the windows": two instances may race to open a minute (the
# loser counts again), or another instance's clock may be a little ahead (count in its
# windows). Three rounds cover both; a fourth would mean something else is wrong.
_ROUNDS = 3
# What decoding a counter item of an unexpected shape raises.
_DECODE_FAILURES = (KeyError, TypeError, ValueError)

Item = Mapping[str, Any]

# The wall clock of the windows (tests move it with time_machine, or replace it).
wall_clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's limits: units (CPFs) per minute, and per quota day."""

    per_minute: int
    per_day: int


@dataclass(frozen=True, slots=True)
class Windows:
    """The minute and the quota day an instant falls in."""

    now: float
    minute: int
    day: date

    @classmethod
    def at(cls, now: float) -> Windows:
        return cls(
            now=now, minute=int(now // 60), day=datetime.fromtimestamp(now, QUOTA_TIME_ZONE).date()
        )

    @property
    def minute_ends_at(self) -> float:
        return (self.minute + 1) * 60.0

    @property
    def day_ends_at(self) -> float:
        midnight = datetime.combine(self.day + timedelta(days=1), datetime.min.time())
        return midnight.replace(tzinfo=QUOTA_TIME_ZONE).timestamp()


@dataclass(frozen=True, slots=True)
class Usage:
    """A key's consumption in the current windows (after the request, when it was counted).

    `shared` is False when it was counted by this process alone (DynamoDB unavailable).
    """

    limits: Limits
    windows: Windows
    minute_used: int
    day_used: int
    shared: bool = True

    @property
    def minute_remaining(self) -> int:
        return max(0, self.limits.per_minute - self.minute_used)

    @property
    def day_remaining(self) -> int:
        return max(0, self.limits.per_day - self.day_used)

    @property
    def minute_reset_seconds(self) -> int:
        """Whole seconds until the minute's count starts again (at least 1)."""
        return max(1, math.ceil(self.windows.minute_ends_at - self.windows.now))

    @property
    def day_reset_seconds(self) -> int:
        """Whole seconds until the quota day's count starts again (at least 1)."""
        return max(1, math.ceil(self.windows.day_ends_at - self.windows.now))


class Refusal(enum.Enum):
    """Which limit a request did not fit in."""

    RATE_LIMIT = "rate_limit"
    DAILY_QUOTA = "daily_quota"


@dataclass(frozen=True, slots=True)
class Count:
    """What counting (or peeking) answered: the usage, whether the request was refused, and
    the key version on the counter item (None when it carries none, or was not reached)."""

    usage: Usage
    refused: Refusal | None = None
    key_version: int | None = None


class ProcessCounters:
    """The fallback while DynamoDB is unavailable: this process's own counters per key,
    with the same limits and windows. Bounded: the oldest key is dropped past MAX_KEYS."""

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int, date, int]] = {}
        self._lock = threading.Lock()

    def count(self, prefix: str, *, units: int, limits: Limits, windows: Windows) -> Count:
        with self._lock:
            minute_used, day_used = self._current(prefix, windows)
            refused = _refusal(minute_used, day_used, units=units, limits=limits)
            if refused is None:
                minute_used, day_used = minute_used + units, day_used + units
                self._counters.pop(prefix, None)  # re-inserted as the newest
                if len(self._counters) >= self.MAX_KEYS:
                    self._counters.pop(next(iter(self._counters)))
                self._counters[prefix] = (windows.minute, minute_used, windows.day, day_used)
        usage = Usage(limits, windows, minute_used, day_used, shared=False)
        return Count(usage, refused)

    def peek(self, prefix: str, *, limits: Limits, windows: Windows) -> Count:
        with self._lock:
            minute_used, day_used = self._current(prefix, windows)
        return Count(Usage(limits, windows, minute_used, day_used, shared=False))

    def clear(self) -> None:
        with self._lock:
            self._counters.clear()

    def _current(self, prefix: str, windows: Windows) -> tuple[int, int]:
        minute, minute_used, day, day_used = self._counters.get(prefix, (0, 0, windows.day, 0))
        return (
            minute_used if minute == windows.minute else 0,
            day_used if day == windows.day else 0,
        )


# The endpoint's one cool-down, shared with the score cache (aws_clients).
cool_down = aws_clients.dynamodb_cool_down
process_counters = ProcessCounters()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    """A new endpoint or table (tests, override_settings) starts afresh."""
    if setting.startswith("DYNAMODB_") or setting in ("AWS_REGION", "SCORE_CACHE_TABLE"):
        cool_down.reset()
        process_counters.clear()


def count(prefix: str, *, units: int, limits: Limits) -> Count:
    """Count `units` against the key's limits in the current windows, or refuse them.

    `units` must fit in both limits (a request larger than a limit could never pass: the
    caller refuses it instead). A refused request is not counted.
    """
    if not 1 <= units <= min(limits.per_minute, limits.per_day):
        raise ValueError(f"{units} units cannot fit in {limits}")
    windows = Windows.at(wall_clock())
    if not cool_down.active():
        try:
            return _count_shared(prefix, units=units, limits=limits, windows=windows)
        except DynamoDBCallFailed as exc:
            _failed(exc)
    return process_counters.count(prefix, units=units, limits=limits, windows=windows)


def peek(prefix: str, *, limits: Limits) -> Count:
    """The key's usage in the current windows and its announced version, counting nothing."""
    windows = Windows.at(wall_clock())
    if not cool_down.active():
        try:
            response = dynamodb_call(
                aws_clients.dynamodb().get_item,
                TableName=_table(),
                Key=_key(prefix),
                ConsistentRead=True,
            )
            return _decoded(response.get("Item", {}), limits=limits, windows=windows)
        except DynamoDBCallFailed as exc:
            _failed(exc)
        except _DECODE_FAILURES as exc:
            _failed(DynamoDBCallFailed(f"UnexpectedCounterItem:{type(exc).__name__}"))
    return process_counters.peek(prefix, limits=limits, windows=windows)


def announce_key_versions(versions: Mapping[str, int]) -> int:
    """Stamp each key's counter item with its new version (prefix -> version).

    Every instance sees a stamp on its next request for the key and re-reads the key. A stamp
    never replaces a newer one. The cool-down is not honoured: a change must always try.
    Returns how many could not be stamped; instances apply those changes within
    API_KEY_CACHE_SECONDS, when their copy of the key expires.
    """
    failed = 0
    expires_at = _expires_at(Windows.at(wall_clock()))
    for prefix, version in versions.items():
        try:
            dynamodb_call(
                aws_clients.dynamodb().update_item,
                TableName=_table(),
                Key=_key(prefix),
                UpdateExpression="SET key_version = :version, #ttl = :expires_at",
                ConditionExpression="attribute_not_exists(key_version) OR key_version < :version",
                ExpressionAttributeNames={"#ttl": _TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":version": {"N": str(version)},
                    ":expires_at": {"N": str(expires_at)},
                },
            )
        except DynamoDBCallFailed as exc:
            if exc.code == _CONDITION_FAILED:
                continue  # a newer version is announced already
            failed += 1
            logger.warning(
                "API key change not announced to other instances; they apply it within %ss",
                settings.API_KEY_CACHE_SECONDS,
                extra={"fields": {"error": exc.code, "key_prefix": prefix}},
            )
    return failed


def _count_shared(prefix: str, *, units: int, limits: Limits, windows: Windows) -> Count:
    try:
        return _count_in_rounds(prefix, units=units, limits=limits, windows=windows)
    except _DECODE_FAILURES as exc:
        raise DynamoDBCallFailed(f"UnexpectedCounterItem:{type(exc).__name__}") from exc


def _count_in_rounds(prefix: str, *, units: int, limits: Limits, windows: Windows) -> Count:
    for _ in range(_ROUNDS):
        try:
            return _decoded(_add(prefix, units, limits, windows), limits=limits, windows=windows)
        except DynamoDBCallFailed as exc:
            if exc.code != _CONDITION_FAILED:
                raise
            old = _refused_item(prefix, exc)
        old_minute, old_day = _windows_of(old)
        if old_minute is not None and old_day is not None and old_minute > windows.minute:
            # Another instance's clock is a little ahead and opened the next windows: count
            # in them rather than move the item back (which would reset its counts).
            windows = Windows(now=windows.now, minute=old_minute, day=old_day)
            continue
        if old_minute == windows.minute and old_day == windows.day:
            refused = _refused(old, units=units, limits=limits, windows=windows)
            if refused is not None:
                return refused
            continue  # room after all (the item changed meanwhile): count again
        # The item is in older windows, or new: open the current ones.
        if old_day == windows.day and int(old["day_used"]["N"]) + units > limits.per_day:
            usage = Usage(limits, windows, 0, int(old["day_used"]["N"]))
            return Count(usage, Refusal.DAILY_QUOTA, _key_version(old))
        try:
            attributes = _open(prefix, units, limits, windows, old)
        except DynamoDBCallFailed as exc:
            if exc.code != _CONDITION_FAILED:
                raise
            continue  # another instance opened them first: count again, in them
        return _decoded(attributes, limits=limits, windows=windows)
    raise DynamoDBCallFailed("CounterContention")


def _add(prefix: str, units: int, limits: Limits, windows: Windows) -> Item:
    """The common case: count in the item's current windows, if both have room; and a key's
    first count opens its windows in the same call. So a refusal always concerns a stored
    item (the one DynamoDB returns with it)."""
    response = dynamodb_call(
        aws_clients.dynamodb().update_item,
        TableName=_table(),
        Key=_key(prefix),
        UpdateExpression=(
            "ADD minute_used :units, day_used :units"
            " SET #minute = :minute, #day = :day, #ttl = :expires_at"
        ),
        ConditionExpression=(
            "attribute_not_exists(#minute) OR (#minute = :minute AND #day = :day"
            " AND minute_used <= :minute_room AND day_used <= :day_room)"
        ),
        ExpressionAttributeNames={"#minute": "minute", "#day": "day", "#ttl": _TTL_ATTRIBUTE},
        ExpressionAttributeValues={
            ":units": {"N": str(units)},
            ":expires_at": {"N": str(_expires_at(windows))},
            ":minute": {"N": str(windows.minute)},
            ":day": {"S": windows.day.isoformat()},
            ":minute_room": {"N": str(limits.per_minute - units)},
            ":day_room": {"N": str(limits.per_day - units)},
        },
        ReturnValues="ALL_NEW",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    attributes: Item = response["Attributes"]
    return attributes


def _refused_item(prefix: str, refused: DynamoDBCallFailed) -> Item:
    """The item as it was when DynamoDB refused the condition: from the refusal itself, or,
    from a store that leaves it out (dynalite, DynamoDB Local before December 2023), read
    with a consistent read: never taken for a new item (which would open new windows)."""
    if "Item" in refused.error:
        item: Item = refused.error["Item"]
        return item
    response = dynamodb_call(
        aws_clients.dynamodb().get_item, TableName=_table(), Key=_key(prefix), ConsistentRead=True
    )
    stored: Item = response.get("Item", {})
    return stored


def _open(prefix: str, units: int, limits: Limits, windows: Windows, old: Item) -> Item:
    """Move the item into the current windows and count there, if it is still as read."""
    values: dict[str, AttributeValueTypeDef] = {
        ":minute": {"N": str(windows.minute)},
        ":day": {"S": windows.day.isoformat()},
        ":units": {"N": str(units)},
        ":expires_at": {"N": str(_expires_at(windows))},
    }
    if "minute" in old:
        condition = "#minute = :old_minute"
        values[":old_minute"] = old["minute"]
    else:
        condition = "attribute_not_exists(#minute)"
    if "day" in old and old["day"].get("S") == windows.day.isoformat():
        # A new minute of the same day: the day's count goes on.
        update = (
            "SET #minute = :minute, minute_used = :units, #ttl = :expires_at ADD day_used :units"
        )
        condition += " AND #day = :day AND day_used <= :day_room"
        values[":day_room"] = {"N": str(limits.per_day - units)}
    else:
        update = (
            "SET #minute = :minute, minute_used = :units, #day = :day, day_used = :units,"
            " #ttl = :expires_at"
        )
    response = dynamodb_call(
        aws_clients.dynamodb().update_item,
        TableName=_table(),
        Key=_key(prefix),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames={"#minute": "minute", "#day": "day", "#ttl": _TTL_ATTRIBUTE},
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    attributes: Item = response["Attributes"]
    return attributes


def _refused(old: Item, *, units: int, limits: Limits, windows: Windows) -> Count | None:
    """The refusal of a request that did not fit in the item's (current) windows."""
    minute_used, day_used = int(old["minute_used"]["N"]), int(old["day_used"]["N"])
    refused = _refusal(minute_used, day_used, units=units, limits=limits)
    if refused is None:
        return None
    return Count(Usage(limits, windows, minute_used, day_used), refused, _key_version(old))


def _refusal(minute_used: int, day_used: int, *, units: int, limits: Limits) -> Refusal | None:
    # The quota first: it is the longer wait, and the one a client must plan around.
    if day_used + units > limits.per_day:
        return Refusal.DAILY_QUOTA
    if minute_used + units > limits.per_minute:
        return Refusal.RATE_LIMIT
    return None


def _decoded(item: Item, *, limits: Limits, windows: Windows) -> Count:
    """The usage an item shows in `windows` (zero in windows it has not counted yet)."""
    minute, day = _windows_of(item)
    minute_used = int(item["minute_used"]["N"]) if minute == windows.minute else 0
    day_used = int(item["day_used"]["N"]) if day == windows.day else 0
    return Count(Usage(limits, windows, minute_used, day_used), key_version=_key_version(item))


def _windows_of(item: Item) -> tuple[int | None, date | None]:
    minute = int(item["minute"]["N"]) if "minute" in item else None
    day = date.fromisoformat(item["day"]["S"]) if "day" in item else None
    return minute, day


def _key_version(item: Item) -> int | None:
    return int(item["key_version"]["N"]) if "key_version" in item else None


def _failed(exc: DynamoDBCallFailed) -> None:
    seconds = float(settings.DYNAMODB_FAILURE_COOLDOWN_SECONDS)
    cool_down.start(seconds)
    logger.warning(
        "rate-limit counters unavailable; counting per process for %.1fs",
        seconds,
        extra={"fields": {"error": exc.code}},
    )


def _table() -> str:
    return str(settings.SCORE_CACHE_TABLE)  # one table: the score cache's


def _key(prefix: str) -> dict[str, AttributeValueTypeDef]:
    return {_KEY_ATTRIBUTE: {"S": COUNTER_KEY_PREFIX + prefix}}


def _expires_at(windows: Windows) -> int:
    return math.ceil(windows.day_ends_at + _RETENTION_AFTER_DAY.total_seconds())
