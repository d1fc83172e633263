"""What the API answers for a CPF whose consumer asked something: suspended (404
score_suspended), cancelled (no_credit_data), disputed (under_dispute); single and batch,
cached and computed, on two server processes; and what it costs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from rest_framework.test import APIClient

from accounts.constants import Scope
from scores.core.cpf import Cpf
from scores.models import (
    Consultation,
    ConsumerRequestChannel,
    ConsumerRequestKind,
    DisputeOutcome,
)
from scores.services import consumer_request_register, consumer_request_resolve
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")

CPF = Cpf.parse(EXAMPLE_CPF)


def register(kind, **extra):
    return consumer_request_register(
        cpf=CPF, kind=kind, channel=ConsumerRequestChannel.WEB, actor="test", **extra
    )


def score(client):
    return client.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")


def batch(client, *cpfs):
    return client.post("/api/v1/scores/batch", {"cpfs": list(cpfs)}, format="json")


@pytest.fixture
def batch_client(issue_key):
    _, plaintext = issue_key(scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    return client


@pytest.mark.parametrize("cached_first", [True, False], ids=["was-cached", "not-cached"])
def test_if_a_score_is_suspended_then_the_api_answers_404_score_suspended_and_records_it(
    client_with_key, make_profile, django_capture_on_commit_callbacks, cached_first
):
    make_profile()
    if cached_first:
        assert score(client_with_key).json()["source"] == "computed"
        assert score(client_with_key).json()["source"] == "cache"

    with django_capture_on_commit_callbacks(execute=True):
        register(ConsumerRequestKind.SUSPEND)
    answers = [score(client_with_key) for _ in range(2)]

    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "score_suspended"
        assert answer.json()["error"]["message"] == "No score is available for this CPF."
        assert CPF.digits not in answer.content.decode()
    outcomes = list(Consultation.objects.order_by("occurred_at").values_list("outcome", flat=True))
    assert outcomes[-2:] == ["score_suspended", "score_suspended"]


def test_if_a_batch_has_a_suspended_cpf_then_that_item_says_so_and_the_others_are_scored(
    batch_client, make_profile, django_capture_on_commit_callbacks
):
    make_profile()
    make_profile(OTHER_EXAMPLE_CPF)
    batch(batch_client, EXAMPLE_CPF, OTHER_EXAMPLE_CPF)  # both cached
    with django_capture_on_commit_callbacks(execute=True):
        register(ConsumerRequestKind.SUSPEND)

    response = batch(batch_client, EXAMPLE_CPF, OTHER_EXAMPLE_CPF)

    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first == {"status": "score_suspended", "cpf": "***.982.247-**"}
    assert (second["status"], second["source"]) == ("ok", "cache")
    rows = Consultation.objects.filter(request_id=response["X-Request-ID"])
    assert sorted(rows.values_list("outcome", "http_status")) == [
        ("score_suspended", 200),
        ("scored", 200),
    ]


def test_if_a_record_is_cancelled_then_the_api_answers_no_credit_data(
    client_with_key, make_profile, django_capture_on_commit_callbacks
):
    make_profile()
    score(client_with_key)  # cached

    with django_capture_on_commit_callbacks(execute=True):
        register(ConsumerRequestKind.CANCEL)
    response = score(client_with_key)

    assert (response.status_code, response.json()["error"]["code"]) == (404, "no_credit_data")


def test_if_a_dispute_is_open_then_single_and_batch_answers_say_it_until_it_is_resolved(
    batch_client, make_profile, django_capture_on_commit_callbacks
):
    make_profile()
    assert score(batch_client).json()["under_dispute"] is False

    with django_capture_on_commit_callbacks(execute=True):
        dispute = register(ConsumerRequestKind.DISPUTE, disputed_fields=["protests"])
    computed, cached = score(batch_client).json(), score(batch_client).json()
    in_batch = batch(batch_client, EXAMPLE_CPF).json()["results"][0]
    with django_capture_on_commit_callbacks(execute=True):
        consumer_request_resolve(
            request=dispute, outcome=DisputeOutcome.CORRECTED, resolution="Fixed.", actor="t"
        )
    after = score(batch_client).json()

    assert [(a["source"], a["under_dispute"]) for a in (computed, cached, in_batch, after)] == [
        ("computed", True),
        ("cache", True),
        ("cache", True),
        ("computed", False),
    ]


def test_if_a_suspended_score_is_asked_then_it_costs_what_a_computed_score_costs(
    client_with_key, make_profile, django_assert_num_queries, dynamodb_calls
):
    make_profile()
    register(ConsumerRequestKind.SUSPEND)
    client_with_key.post("/api/v1/scores", {"cpf": OTHER_EXAMPLE_CPF}, format="json")  # warm
    dynamodb_calls.clear()

    with django_assert_num_queries(2):  # the profile with its requests, the audit INSERT
        assert score(client_with_key).status_code == 404

    assert sorted(dynamodb_calls) == ["BatchGetItem", "UpdateItem"]  # nothing cached


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_if_two_servers_serve_a_cached_score_then_a_suspension_stops_both_at_their_next_request(
    start_servers, issue_key, make_profile
):
    make_profile()
    _, plaintext = issue_key()
    servers = start_servers(2)

    def ask(server):
        request = urllib.request.Request(  # noqa: S310 (loopback http)
            f"{server.url}/api/v1/scores",
            data=json.dumps({"cpf": EXAMPLE_CPF}).encode(),
            headers={"Content-Type": "application/json", "X-Api-Key": plaintext},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())["source"]
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())["error"]["code"]

    assert [ask(server) for server in servers] == [(200, "computed"), (200, "cache")]
    register(ConsumerRequestKind.SUSPEND)  # committed: the drain ran after the commit

    assert [ask(server) for server in servers] == [(404, "score_suspended")] * 2
    register(ConsumerRequestKind.REOPEN)
    assert [ask(server)[0] for server in servers] == [200, 200]
