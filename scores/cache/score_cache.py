"""The DynamoDB score cache: the one module that reads and writes cached scores.

Cache-aside, keyed by the CPF's lookup hash; tombstones for changed profiles, conditional
writes, a generation for "everything at once", and a cool-down after any failure, when
scores are computed instead. How and why: docs/architecture.md, "The score cache" and
"Cache invalidation".
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
from scoreportal.aws_clients import DynamoDBCallFailed, dynamodb_call
from scores.core.scorecard import bins_from_text, bins_text

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
# The current generation's item (not a CPF hash: those are 64 hex digits), and its attribute.
GENERATION_KEY = "__generation__"
GENERATION_ATTRIBUTE = "generation"
# The scorecard version the portal activated, in the generation's item: every request
# already reads that item, so it learns the active version without another round trip.
SCORECARD_VERSION_ATTRIBUTE = "scorecard_version"
# The challenger computed in shadow beside it, and on what share of requests (0-100).
CHALLENGER_VERSION_ATTRIBUTE = "challenger_version"
CHALLENGER_SHARE_ATTRIBUTE = "challenger_share"
# A score item's characteristic bins ("0,3,1"; absent from items written before).
BINS_ATTRIBUTE = "bins"
# Scores asked in one BatchGetItem: its limit, less the generation's item.
_SCORES_PER_READ = _BATCH_GET_LIMIT - 1
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
    # Its consumer disputes data it was computed from (an open dispute when it was computed;
    # opening and resolving one replace the cached score).
    under_dispute: bool = False
    # The bin of each characteristic (the scorecard's order): characteristic stability
    # counts them from the audit rows. () for an item written before they were kept.
    bins: tuple[int, ...] = ()


# The endpoint's one cool-down, shared with the per-key counters (aws_clients).
cool_down = aws_clients.dynamodb_cool_down


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


@dataclass(frozen=True, slots=True)
class CacheRead:
    """What one read of the cache found: each hash's fresh score (None on a miss) and the
    generation the scores computed for the misses must be written under (None when the
    read failed or was skipped: then nothing is written)."""

    scores: dict[str, CachedScore | None]
    generation: int | None
    # The items read for `also` (a key absent: no item); None when the read failed or was
    # skipped.
    others: dict[str, Item] | None = None
    # The version the generation's item names as active; "" when it names none (no
    # version was ever activated in the portal), None when the read failed or was skipped.
    scorecard_version: str | None = None
    # The challenger the item names, with its share of requests (percent); None: none.
    challenger: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class _GenerationState:
    generation: int
    scorecard_version: str
    challenger: tuple[str, int] | None


def read(
    cpf_hashes: Sequence[str],
    *,
    model_version: str | None = None,
    default_version: str = "",
    also: Sequence[str] = (),
) -> CacheRead:
    """The cached score of each of `cpf_hashes` (distinct), the current generation and the
    active scorecard version.

    A miss: no item, a tombstone, an expired item, another scorecard's, another
    generation's, or any failure. One BatchGetItem per 99 hashes, each with the generation.
    Fresh means of `model_version`; None: of the version the generation's item names, or
    `default_version` when it names none. `also`: other keys of the table to read in the
    first call (the per-key counters' item, for the key's announced version),
    consistently: returned in `others`.
    """
    found: Mapping[str, Item] = {}
    others: dict[str, Item] | None = None
    state: _GenerationState | None = None
    if (cpf_hashes or also) and not cool_down.active():
        try:
            found, state, others = _read_with_generation(cpf_hashes, also)
        except DynamoDBCallFailed as exc:
            _failed("read", exc)
    generation = None if state is None else state.generation
    active = None if state is None else state.scorecard_version
    if model_version is None:
        model_version = active or default_version
    return CacheRead(
        scores={
            cpf_hash: _decoded(found[cpf_hash], model_version=model_version, generation=generation)
            if cpf_hash in found
            else None
            for cpf_hash in cpf_hashes
        },
        generation=generation,
        others=others,
        scorecard_version=active,
        challenger=None if state is None else state.challenger,
    )


def get(cpf_hash: str, *, model_version: str) -> CachedScore | None:
    """The cached score for `cpf_hash`, or None on a miss, a stale item or any failure."""
    return read([cpf_hash], model_version=model_version).scores[cpf_hash]


def get_many(cpf_hashes: Sequence[str], *, model_version: str) -> dict[str, CachedScore | None]:
    """The cached score of each of `cpf_hashes` (distinct), None where get() would say None."""
    return read(cpf_hashes, model_version=model_version).scores


def _read_with_generation(
    cpf_hashes: Sequence[str], also: Sequence[str] = ()
) -> tuple[dict[str, Item], _GenerationState | None, dict[str, Item] | None]:
    """The items of `cpf_hashes` and the generation's item as read (the generation, the
    active scorecard version, "" when it names none, and the challenger), GENERATION_KEY
    asked beside every 99 hashes (the first call also asks `also`, consistently, and fewer
    hashes). The newest generation seen wins, with its versions (a later call of the same
    read can see an increment the first did not: its items are then checked against the
    newer one). None when a call left the generation's item unprocessed: the read is then a
    miss. The items of `also`, or None when one of them was left unprocessed."""
    items: dict[str, Item] = {}
    others: dict[str, Item] | None = {}
    generations: list[_GenerationState | None] = []
    hashes = list(cpf_hashes)
    first = _SCORES_PER_READ - len(also)
    chunks = [(hashes[:first], list(also))]
    chunks += [(chunk, []) for chunk in _chunks(hashes[first:], _SCORES_PER_READ)]
    for chunk, extra in chunks:
        found, unprocessed = _read_items([*chunk, *extra, GENERATION_KEY], consistent=bool(extra))
        generation_item = found.pop(GENERATION_KEY, None)
        if GENERATION_KEY in unprocessed:
            generations.append(None)
        else:
            generations.append(_generation_of(generation_item))
        if extra:
            if unprocessed.intersection(extra):
                others = None
            elif others is not None:
                others.update((key, found.pop(key)) for key in extra if key in found)
        items.update(found)
    if None in generations:
        return {}, None, others
    newest = max((g for g in generations if g is not None), key=lambda state: state.generation)
    return items, newest, others


def _generation_of(item: Item | None) -> _GenerationState | None:
    if item is None:
        return _GenerationState(0, "", None)
    try:
        generation = int(item[GENERATION_ATTRIBUTE]["N"]) if GENERATION_ATTRIBUTE in item else 0
        version = (
            str(item[SCORECARD_VERSION_ATTRIBUTE]["S"])
            if SCORECARD_VERSION_ATTRIBUTE in item
            else ""
        )
        challenger = (
            (
                str(item[CHALLENGER_VERSION_ATTRIBUTE]["S"]),
                int(item[CHALLENGER_SHARE_ATTRIBUTE]["N"]),
            )
            if CHALLENGER_VERSION_ATTRIBUTE in item
            else None
        )
    except _DECODE_FAILURES:
        logger.warning("score cache generation item of an unexpected shape; reading misses")
        return None
    return _GenerationState(generation, version, challenger)


def invalidate_all(*, patient: bool = True) -> int:
    """Make every cached score a miss: one UpdateItem adding 1 to the generation. Returns
    the new generation. Raises DynamoDBCallFailed (an operator's action: a failure must be
    seen); ignores the cool-down. `patient`: through the patient client (a command); a
    request (the admin's page) passes False and gets the request path's timeouts."""
    client = aws_clients.dynamodb_bulk() if patient else aws_clients.dynamodb()
    response = dynamodb_call(
        client.update_item,
        TableName=_table(),
        Key={KEY_ATTRIBUTE: {"S": GENERATION_KEY}},
        UpdateExpression="ADD #generation :one",
        ExpressionAttributeNames={"#generation": GENERATION_ATTRIBUTE},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"][GENERATION_ATTRIBUTE]["N"])


def scorecard_activate(version: str, *, patient: bool = True) -> int:
    """Name `version` as the active scorecard in the generation's item, and start a new
    generation (every cached score a miss), in one UpdateItem; returns the new generation.
    Every instance serves `version` from its next cache read. Raises DynamoDBCallFailed (an
    operator's action: a failure must be seen); ignores the cool-down."""
    client = aws_clients.dynamodb_bulk() if patient else aws_clients.dynamodb()
    response = dynamodb_call(
        client.update_item,
        TableName=_table(),
        Key={KEY_ATTRIBUTE: {"S": GENERATION_KEY}},
        UpdateExpression="SET #version = :version ADD #generation :one",
        ExpressionAttributeNames={
            "#generation": GENERATION_ATTRIBUTE,
            "#version": SCORECARD_VERSION_ATTRIBUTE,
        },
        ExpressionAttributeValues={":one": {"N": "1"}, ":version": {"S": version}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"][GENERATION_ATTRIBUTE]["N"])


def scorecard_challenger_set(version: str | None, share: int, *, patient: bool = True) -> None:
    """Name the challenger computed in shadow and its share of requests (percent) in the
    generation's item, or remove it (None); the generation is unchanged: cached scores stay
    valid. Raises DynamoDBCallFailed; ignores the cool-down."""
    client = aws_clients.dynamodb_bulk() if patient else aws_clients.dynamodb()
    names = {"#version": CHALLENGER_VERSION_ATTRIBUTE, "#share": CHALLENGER_SHARE_ATTRIBUTE}
    if version is None:
        dynamodb_call(
            client.update_item,
            TableName=_table(),
            Key={KEY_ATTRIBUTE: {"S": GENERATION_KEY}},
            UpdateExpression="REMOVE #version, #share",
            ExpressionAttributeNames=names,
        )
        return
    dynamodb_call(
        client.update_item,
        TableName=_table(),
        Key={KEY_ATTRIBUTE: {"S": GENERATION_KEY}},
        UpdateExpression="SET #version = :version, #share = :share",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":version": {"S": version}, ":share": {"N": str(share)}},
    )


def read_items(keys: Sequence[str]) -> dict[str, Item]:
    """The items stored under `keys` (distinct), by key; a key without an item is absent.

    BatchGetItem, 100 keys a call; keys DynamoDB leaves unprocessed (throttling) are asked
    again with back-off, and after the last round treated as absent (a miss). Raises
    DynamoDBCallFailed when a call fails: the caller decides what that means.
    """
    return _read_items(keys)[0]


def _read_items(
    keys: Sequence[str], *, consistent: bool = False
) -> tuple[dict[str, Item], set[str]]:
    """read_items, and the keys still unprocessed after the last round."""
    items: dict[str, Item] = {}
    left: set[str] = set()
    for chunk in _chunks(list(keys), _BATCH_GET_LIMIT):
        pending: KeysAndAttributesTypeDef = {"Keys": [{KEY_ATTRIBUTE: {"S": key}} for key in chunk]}
        if consistent:
            pending["ConsistentRead"] = True
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
            unread: list[Any] = list(pending["Keys"])
            left.update(str(key[KEY_ATTRIBUTE]["S"]) for key in unread)
            logger.warning(
                "score cache batch read left keys unprocessed; treated as misses",
                extra={"fields": {"unprocessed": len(pending["Keys"])}},
            )
    return items, left


def _decoded(item: Item, *, model_version: str, generation: int | None) -> CachedScore | None:
    try:
        return _fresh_score(item, model_version=model_version, generation=generation)
    except _DECODE_FAILURES as exc:
        logger.warning(
            "score cache item of an unexpected shape; treated as a miss",
            extra={"fields": {"error": type(exc).__name__}},
        )
        return None


def _fresh_score(item: Item, *, model_version: str, generation: int | None) -> CachedScore | None:
    """The item's score, or None for a tombstone, an expired item, another scorecard's or
    another generation's (an item written before generations has generation 0)."""
    if "score" not in item:  # a tombstone
        return None
    written_under = int(item[GENERATION_ATTRIBUTE]["N"]) if GENERATION_ATTRIBUTE in item else 0
    if written_under != generation:
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
        under_dispute=bool(item.get("under_dispute", {}).get("BOOL", False)),
        bins=bins_from_text(str(item.get(BINS_ATTRIBUTE, {}).get("S", ""))),
    )


def _score_item(
    cpf_hash: str, cached: CachedScore, generation: int
) -> dict[str, AttributeValueTypeDef]:
    item: dict[str, AttributeValueTypeDef] = {
        GENERATION_ATTRIBUTE: {"N": str(generation)},
        KEY_ATTRIBUTE: {"S": cpf_hash},
        "score": {"N": str(cached.score)},
        "band": {"S": cached.band},
        "probability_of_default": {"N": str(cached.probability_of_default)},
        "reason_codes": {"L": [{"S": code} for code in cached.reason_codes]},
        "model_version": {"S": cached.model_version},
        "profile_version": {"N": str(cached.profile_version)},
        "computed_at": {"S": cached.computed_at.astimezone(UTC).isoformat()},
        "under_dispute": {"BOOL": cached.under_dispute},
        TTL_ATTRIBUTE: {"N": str(_expires_at())},
    }
    if cached.bins:
        item[BINS_ATTRIBUTE] = {"S": bins_text(cached.bins)}
    return item


def put(cpf_hash: str, cached: CachedScore, *, generation: int) -> None:
    """Store a computed score under `generation` (the one its read saw: CacheRead), unless
    the cache already knows a newer profile version."""
    if cool_down.active():
        return
    try:
        dynamodb_call(
            aws_clients.dynamodb().put_item,
            TableName=_table(),
            Item=_score_item(cpf_hash, cached, generation),
            ConditionExpression="attribute_not_exists(#key) OR profile_version <= :version",
            ExpressionAttributeNames={"#key": KEY_ATTRIBUTE},
            ExpressionAttributeValues={":version": {"N": str(cached.profile_version)}},
        )
    except DynamoDBCallFailed as exc:
        if exc.code != "ConditionalCheckFailedException":
            _failed("write", exc)
        # else: the profile changed while this score was computed; keep the newer state


def put_many(scores: Mapping[str, CachedScore], *, generation: int) -> bool:
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
            {"PutRequest": {"Item": _score_item(cpf_hash, cached, generation)}}
            for cpf_hash, cached in chunk
        ]
        failed = _batch_write(requests, operation="write")
        written = written or failed < len(requests)
        if failed:
            break  # the cache is cooling down now: the rest would be skipped too
    return written


def invalidate(profile_versions: Mapping[str, int]) -> int:
    """Replace the cached scores of changed profiles (cpf_hash -> new version) by tombstones,
    each conditional: an item of the same or a higher profile version is left as it is.

    One UpdateItem per profile: for a few (a request that finds profiles changed under it).
    Returns how many could not be invalidated; those are served until they expire.
    Invalidation does not honour the cool-down: a data change must always try.
    """
    failed = 0
    expires_at = str(_expires_at())
    for cpf_hash, version in profile_versions.items():
        if failed:  # DynamoDB failed on this call: the rest would wait on it too
            failed += 1
            continue
        try:
            dynamodb_call(
                aws_clients.dynamodb().put_item,
                TableName=_table(),
                Item=_tombstone(cpf_hash, version, expires_at),
                ConditionExpression="attribute_not_exists(#key) OR profile_version < :version",
                ExpressionAttributeNames={"#key": KEY_ATTRIBUTE},
                ExpressionAttributeValues={":version": {"N": str(version)}},
            )
        except DynamoDBCallFailed as exc:
            if exc.code != "ConditionalCheckFailedException":
                _failed("invalidation", exc)
                failed += 1
            # else: the item already knows this version or a newer one
    return failed


def invalidate_serialized(profile_versions: Mapping[str, int], *, patient: bool = True) -> int:
    """Write tombstones (cpf_hash -> new version) with BatchWriteItem, 25 a call, without a
    condition; returns how many could not be written. Stops at the first call that fails:
    the rest count as not written (a DynamoDB that is down costs one timeout, not one per
    25 items). `patient`: through the patient client (imports, the schedule, commands);
    False for a drain inside a request (the request path's timeouts).

    Only for a caller that guarantees no other tombstone of these CPFs is being written and
    that each version is the newest committed one: the outbox's drain, which holds the
    pending rows' locks while it writes (scores.services.invalidations). Then no item of
    a higher version can exist, and the batch is as safe as `invalidate`, and faster
    (bench/README.md).
    """
    expires_at = str(_expires_at())
    items = list(profile_versions.items())
    written = 0
    for chunk in _chunks(items, _BATCH_WRITE_LIMIT):
        requests: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": _tombstone(cpf_hash, version, expires_at)}}
            for cpf_hash, version in chunk
        ]
        if _batch_write(requests, operation="invalidation", bulk=patient):
            break
        written += len(chunk)
    return len(items) - written


def _tombstone(cpf_hash: str, version: int, expires_at: str) -> dict[str, AttributeValueTypeDef]:
    return {
        KEY_ATTRIBUTE: {"S": cpf_hash},
        "profile_version": {"N": str(version)},
        TTL_ATTRIBUTE: {"N": expires_at},
    }


def _batch_write(
    requests: Sequence[WriteRequestTypeDef], *, operation: str, bulk: bool = False
) -> int:
    """Write a batch, retrying unprocessed items; return how many never got written.
    `bulk`: through the patient client (aws_clients.dynamodb_bulk), off the request path."""
    client = aws_clients.dynamodb_bulk() if bulk else aws_clients.dynamodb()
    pending = list(requests)
    for attempt in range(_BATCH_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * 2**attempt)  # DynamoDB asks for back-off on unprocessed items
        try:
            response = dynamodb_call(client.batch_write_item, RequestItems={_table(): pending})
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
    """Whether the cache answers a read now (for the health endpoint). During the endpoint's
    cool-down it is not asked: unavailable, at once (a health check must not spend the
    timeout a request just spent, nor make the next request spend it again)."""
    if cool_down.active():
        return False
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
