"""boto3 clients for the request path: one per AWS service per process, created once.

Every AWS call of the application goes through boto3. The DynamoDB client does not wait on
a slow dependency (sub-second timeouts, at most DYNAMODB_MAX_ATTEMPTS attempts, keep-alive;
retry mode "legacy": docs/architecture.md, "DynamoDB through boto3"); `dynamodb_call` turns
every kind of failure into one exception, and `dynamodb_cool_down` skips DynamoDB for a
while after one. Its users, the score cache (its health check included) and the per-key
counters, share that one cool-down: one endpoint, one timeout budget. They serve without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_creation_lock = threading.Lock()
# Held while the cached client is looked up or created: two threads of one request (the
# score cache read and the counter update run concurrently) must not both create one.
_dynamodb_lock = threading.Lock()
_session: boto3.session.Session | None = None


def create_client(service: str, **kwargs: Any) -> Any:
    """A new client of the process's boto3 session (thread-safe). Prefer the cached ones
    below; this is for the start-up code that runs before Django's settings exist."""
    global _session
    with _creation_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(service, **kwargs)  # type: ignore[call-overload]


def dynamodb() -> DynamoDBClient:
    """The process's DynamoDB client (DYNAMODB_ENDPOINT_URL, if set, is a local endpoint)."""
    with _dynamodb_lock:
        return _dynamodb(
            settings.DYNAMODB_ENDPOINT_URL,
            settings.AWS_REGION,
            settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS,
            settings.DYNAMODB_READ_TIMEOUT_SECONDS,
            settings.DYNAMODB_MAX_ATTEMPTS,
        )


@lru_cache(maxsize=4)
def _dynamodb(
    endpoint_url: str | None,
    region: str,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
) -> DynamoDBClient:
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "legacy", "total_max_attempts": max_attempts},
        tcp_keepalive=True,
        # Our calls are fixed shapes (mypy checks them against boto3's stubs); validating
        # each against the service model costs CPU on every request and finds nothing.
        parameter_validation=False,
    )
    client: DynamoDBClient = create_client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
    )
    return client


# The bulk client's timeouts: work off the request path (the invalidation outbox's drains,
# invalidating every score) waits out a slow moment instead of giving up after 0.65 s.
BULK_CONNECT_TIMEOUT_SECONDS = 2.0
BULK_READ_TIMEOUT_SECONDS = 10.0
BULK_MAX_ATTEMPTS = 4


def dynamodb_bulk() -> DynamoDBClient:
    """The process's DynamoDB client for work no request waits on (draining the cache's
    invalidation outbox, a new cache generation): the same endpoint, patient timeouts
    (BULK_*: a tombstone batch that meets a slow moment is retried, not left pending)."""
    with _dynamodb_lock:
        return _dynamodb(
            settings.DYNAMODB_ENDPOINT_URL,
            settings.AWS_REGION,
            BULK_CONNECT_TIMEOUT_SECONDS,
            BULK_READ_TIMEOUT_SECONDS,
            BULK_MAX_ATTEMPTS,
        )


def s3() -> S3Client:
    """The process's S3 client, for the operations bucket (OPERATIONS_BUCKET): files staff
    upload for import and secrets handed to operators. Not on the score path; botocore's
    default timeouts and standard retries. S3_ENDPOINT_URL, if set, is a local endpoint."""
    return _s3(settings.S3_ENDPOINT_URL, settings.AWS_REGION)


@lru_cache(maxsize=4)
def _s3(endpoint_url: str | None, region: str) -> S3Client:
    config = Config(retries={"mode": "standard"}, s3={"addressing_style": "path"})
    client: S3Client = create_client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )
    return client


class DynamoDBCallFailed(Exception):
    """A DynamoDB call that did not get a usable answer.

    `code` says why, for the log: DynamoDB's error code (ConditionalCheckFailedException,
    ResourceNotFoundException, …), botocore's exception name, or NotADynamoDBAnswer.
    `error` is the body of DynamoDB's error answer when there was one: a refused condition
    asked for ReturnValuesOnConditionCheckFailure carries the item in `error["Item"]`.
    """

    def __init__(self, code: str, error: Mapping[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.error: Mapping[str, Any] = error or {}


def dynamodb_call(operation: Callable[..., Mapping[str, Any]], **params: Any) -> Mapping[str, Any]:
    """Make one call with a method of the DynamoDB client; DynamoDBCallFailed on any failure.

    Any failure: an error botocore raises or DynamoDB answers, an answer botocore cannot
    parse, and a 200 answer without a request id (`x-amzn-RequestId`: DynamoDB and every
    compatible store send one; an answer without it came from something else: a proxy's
    page, a captive portal, garbage). DynamoDB's `x-amz-crc32` is verified by botocore when
    it is present, and only then, as botocore does: some compatible stores never send it.
    """
    try:
        response = operation(**params)
    except ClientError as exc:
        raise DynamoDBCallFailed(
            str(exc.response.get("Error", {}).get("Code")), error=exc.response
        ) from exc
    except Exception as exc:
        # Not only BotoCoreError: on some malformed answers botocore's parser raises
        # UnicodeDecodeError or AttributeError. Only the boto3 call is in this block.
        raise DynamoDBCallFailed(type(exc).__name__) from exc
    if "x-amzn-requestid" not in response.get("ResponseMetadata", {}).get("HTTPHeaders", {}):
        raise DynamoDBCallFailed("NotADynamoDBAnswer")
    return response


class CoolDown:
    """After a failure, report DynamoDB unavailable for a while instead of calling it.

    An unreachable endpoint then costs one bounded timeout per cool-down, not one per
    request. `clock` is monotonic (tests move it by hand).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until = float("-inf")
        self._lock = threading.Lock()

    def active(self) -> bool:
        return self.clock() < self._until

    def start(self, seconds: float) -> None:
        with self._lock:
            self._until = self.clock() + seconds

    def reset(self) -> None:
        with self._lock:
            self._until = float("-inf")


# The request path's DynamoDB endpoint is one dependency: whichever user meets its failure
# starts the cool-down for all, so a request waits on one timeout, not one per user.
dynamodb_cool_down = CoolDown()


@contextmanager
def sent_requests(*clients: BaseClient) -> Iterator[list[str]]:
    """Record the operation name of every HTTP request `clients` send, retries included.

    A botocore event hook: how the tests pin the score path's DynamoDB round trips and
    how the benchmark counts them.
    """
    sent: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        sent.append(event_name.rsplit(".", 1)[-1])

    for client in clients:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-send.{service}", record)
    try:
        yield sent
    finally:
        for client in clients:
            service = client.meta.service_model.service_name
            client.meta.events.unregister(f"before-send.{service}", record)
