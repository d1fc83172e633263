"""Fixtures shared by every app's tests.

Tests run against real stores: the Postgres and the moto DynamoDB server that `make test`
(devstack) provides. Each test that touches the cache gets a table of its own.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from rest_framework.test import APIClient

from accounts import rate_limits
from accounts.constants import Scope
from accounts.models import ApiKey, Organization
from accounts.selectors import recent_keys
from accounts.services import api_key_issue
from scoreportal import aws_clients
from scoreportal.logging import JsonFormatter
from scores import score_cache
from scores.cpf import Cpf
from scores.models import CreditProfile

# The CPFs published in the documentation.
EXAMPLE_CPF = "529.982.247-25"
OTHER_EXAMPLE_CPF = "111.444.777-35"

GOOD_PROFILE: dict[str, Any] = {
    "on_time_payment_ratio": "0.9800",
    "delinquencies_30d_12m": 0,
    "max_days_past_due_12m": 0,
    "active_negative_records": 0,
    "protests": 0,
    "credit_utilization": "0.2500",
    "hard_inquiries_90d": 1,
    "credit_history_months": 96,
    "active_credit_contracts": 3,
}


@pytest.fixture(autouse=True)
def _fresh_cache_cool_down() -> None:
    """No test inherits a cool-down (score cache, counters) or per-process counts."""
    score_cache.cool_down.reset()
    rate_limits.cool_down.reset()
    rate_limits.process_counters.clear()


@pytest.fixture
def dynamodb(settings: Any) -> Any:
    """boto3's client for the local DynamoDB endpoint: an independent view of the table."""
    return boto3.client(
        "dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.DYNAMODB_ENDPOINT_URL
    )


@pytest.fixture
def score_table(settings: Any, dynamodb: Any) -> Iterator[str]:
    """A fresh, empty DynamoDB score cache table on the local endpoint."""
    table = settings.SCORE_CACHE_TABLE = f"scores-test-{uuid.uuid4().hex[:12]}"
    score_cache.ensure_table()
    yield table
    dynamodb.delete_table(TableName=table)  # the endpoint of setup, whatever the test did


@pytest.fixture
def dynamodb_calls(settings: Any) -> Iterator[list[str]]:
    """The DynamoDB requests the application sends while the test runs (one per attempt).

    Counts on the client of the settings in force when the fixture starts: a test that
    points the cache elsewhere must do so before asking for this fixture.
    """
    with aws_clients.sent_requests(aws_clients.dynamodb()) as sent:
        yield sent


class FakeClock:
    """A monotonic clock the test moves by hand: time travel without sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The monotonic clock of the process-local caches (API keys) and the cool-downs."""
    clock = FakeClock()
    monkeypatch.setattr(recent_keys, "clock", clock)
    monkeypatch.setattr(score_cache.cool_down, "clock", clock)
    monkeypatch.setattr(rate_limits.cool_down, "clock", clock)
    return clock


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Banco Exemplo", slug="banco-exemplo")


@pytest.fixture
def issue_key(organization: Organization) -> Callable[..., tuple[ApiKey, str]]:
    """Issue a key through the real service; returns (ApiKey, plaintext)."""

    def issue(**kwargs: Any) -> tuple[ApiKey, str]:
        kwargs.setdefault("organization", organization)
        kwargs.setdefault("name", "test key")
        kwargs.setdefault("scopes", [Scope.SCORES_READ])
        return api_key_issue(**kwargs)

    return issue


@pytest.fixture
def api_key(issue_key: Callable[..., tuple[ApiKey, str]]) -> tuple[ApiKey, str]:
    return issue_key()


@pytest.fixture
def client_with_key(api_key: tuple[ApiKey, str]) -> APIClient:
    """An API client that sends a valid key with scores:read."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    return client


@pytest.fixture
def make_profile(db: None, settings: Any) -> Callable[..., CreditProfile]:
    """Create a credit profile for a CPF (default: the published example) directly."""

    def make(cpf: str = EXAMPLE_CPF, **values: Any) -> CreditProfile:
        parsed = Cpf.parse(cpf)
        return CreditProfile.objects.create(
            cpf_hash=parsed.lookup_hash(settings.CPF_HASH_KEY),
            cpf_masked=parsed.masked,
            **{**GOOD_PROFILE, **values},
        )

    return make


@pytest.fixture
def log_output() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Everything logged while the test runs, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    names = ("", "django.request", "django.server")  # the last two do not propagate
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for name in names:
        logging.getLogger(name).removeHandler(handler)
