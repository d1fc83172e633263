"""boto3 clients for the request path: one per AWS service per process, created once.

Every AWS call of the application goes through boto3 (SPEC §2). The DynamoDB client is
configured for a request that must not wait on a slow dependency: sub-second connect and
read timeouts, at most DYNAMODB_MAX_ATTEMPTS attempts in all, TCP keep-alive on pooled
connections. Credentials, proxies (HTTPS_PROXY), custom CA bundles (AWS_CA_BUNDLE), FIPS and
dual-stack endpoints are botocore's, configured by the standard AWS environment variables.

Retry mode "legacy", not "standard": both retry connection errors, timeouts, 5xx and
throttling, but when DynamoDB's CRC32 check still fails on the last attempt, standard mode
returns the unverified body while legacy mode raises ChecksumError (botocore 1.44; see
scores/tests/test_score_cache.py). Legacy mode's back-off for DynamoDB is a fixed 50 ms
before the second attempt. The score cache's own cool-down stands in for standard mode's
retry quota.

botocore clients are thread-safe; creating one is not, and costs tens of milliseconds, so
each is created once under a lock, from one boto3 session (one credential chain, one cache
of service models and endpoint rules), and kept for the life of the process. A change of
the settings they are built from (tests point them at other endpoints) gives a new client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from django.conf import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_creation_lock = threading.Lock()
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
    )
    client: DynamoDBClient = create_client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
    )
    return client


@contextmanager
def sent_requests(client: BaseClient) -> Iterator[list[str]]:
    """Record the operation name of every HTTP request `client` sends, retries included.

    A botocore event hook: how the tests pin the score path's DynamoDB round trips and
    how the benchmark counts them.
    """
    sent: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        sent.append(event_name.rsplit(".", 1)[-1])

    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-send.{service}", record)
    try:
        yield sent
    finally:
        client.meta.events.unregister(f"before-send.{service}", record)
