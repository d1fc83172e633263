"""POST /api/v1/scores/batch end to end: real Postgres, real DynamoDB endpoint, real auth."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.constants import Scope
from conftest import owner_sql
from scoreportal.error_codes import ErrorCode
from scores.constants import BATCH_MAX_CPFS
from scores.core.cpf import Cpf
from scores.models import Consultation
from scores.selectors import active_scorecard
from scores.services import scores_get
from scores.tests.api.strategies import cpf_inputs, cpf_outcome, json_values
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

URL = "/api/v1/scores/batch"
UNKNOWN_CPF = "390.533.447-05"  # valid, no profile

pytestmark = pytest.mark.usefixtures("score_table")


def post(client, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.generic("POST", URL, data, content_type="application/json", **headers)


def error_code(response):
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]["code"]


@pytest.fixture
def batch_key(issue_key):
    """(ApiKey, plaintext) with scores:batch and room for a few full batches."""
    return issue_key(scopes=[Scope.SCORES_BATCH], rate_limit_per_minute=1000, daily_quota=1000)


@pytest.fixture
def batch_client(batch_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {batch_key[1]}")
    return client


def generated_cpfs(count, start=100_000_000):
    return [Cpf.from_base(f"{start + n:09d}").formatted for n in range(count)]


def usage(client):
    return client.get("/api/v1/usage").json()


# ---------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------
def test_if_a_batch_mixes_every_kind_of_item_then_each_is_answered_in_order(
    batch_client, make_profile
):
    make_profile(EXAMPLE_CPF)
    weaker = make_profile(OTHER_EXAMPLE_CPF, protests=2)

    response = post(
        batch_client,
        {"cpfs": [EXAMPLE_CPF, "123", UNKNOWN_CPF, "52998224725", 42, OTHER_EXAMPLE_CPF]},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == response["X-Request-ID"]
    results = body["results"]
    assert [result["status"] for result in results] == [
        "ok",
        "invalid_cpf",
        "no_credit_data",
        "ok",
        "invalid_cpf",
        "ok",
    ]
    assert results[0] == {
        "status": "ok",
        "cpf": "***.982.247-**",
        "score": 975,
        "band": "excellent",
        "probability_of_default": 0.0005,
        "reasons": [
            {"code": "R07", "description": "Many credit applications in the last 90 days"},
            {"code": "R08", "description": "Short credit history"},
        ],
        "model_version": "2026.1",
        "computed_at": results[0]["computed_at"],
        "source": "computed",
        "under_dispute": False,
    }
    assert results[1] == {
        "status": "invalid_cpf",
        "message": "CPF must be 11 digits, bare (00000000000) or formatted (000.000.000-00).",
    }
    assert results[2] == {"status": "no_credit_data", "cpf": "***.533.447-**"}
    assert results[3] == results[0]  # the same CPF twice: answered twice, the same
    assert results[4] == {"status": "invalid_cpf", "message": "CPF must be a string."}
    weaker.refresh_from_db()
    weaker_score = active_scorecard().score(weaker.characteristics()).score
    assert (results[5]["cpf"], results[5]["score"]) == ("***.444.777-**", weaker_score)
    assert weaker_score < 975


def test_if_a_batch_of_100_has_every_kind_of_item_then_all_are_answered_counted_and_audited(
    batch_client, batch_key, make_profile, settings, dynamodb_calls
):
    known = generated_cpfs(60)
    for cpf in known:
        make_profile(cpf)
    scores_get(cpfs=[Cpf.parse(cpf) for cpf in known[:30]])  # half of them cached
    invalid = ["111.111.111-11", "5299822472", "", None, "abc"]
    unknown = generated_cpfs(10, start=700_000_000)
    cpfs = (known + invalid + unknown + known[:25])[:BATCH_MAX_CPFS]
    assert len(cpfs) == 100
    dynamodb_calls.clear()

    response = post(batch_client, {"cpfs": cpfs, "purpose": "credit_review"})
    sent = list(dynamodb_calls)

    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["ok"] * 60 + ["invalid_cpf"] * 5 + ["no_credit_data"] * 10 + ["ok"] * 25
    masked = [result.get("cpf") for result in response.json()["results"]]
    assert masked == [Cpf.parse(c).masked if c in known + unknown else None for c in cpfs]
    # 100 units, whatever the items turned out to be.
    assert usage(batch_client)["daily_quota"]["used"] == 100
    # The reads: one BatchGetItem round for the 70 distinct valid CPFs.
    assert sent.count("BatchGetItem") == 1
    assert "GetItem" not in sent
    rows = list(Consultation.objects.order_by("id"))
    assert len(rows) == 100
    assert {(row.endpoint, row.purpose, row.http_status) for row in rows} == {
        ("scores_batch", "credit_review", 200)
    }
    assert [row.outcome for row in rows] == [
        {"ok": "scored"}.get(status, status) for status in statuses
    ]
    assert rows[0].cpf_hash == Cpf.parse(cpfs[0]).lookup_hash(settings.CPF_HASH_KEY)
    assert (rows[60].cpf_hash, rows[60].cpf_masked) == ("", "")
    assert {str(row.request_id) for row in rows} == {response["X-Request-ID"]}
    assert {row.api_key_id for row in rows} == {batch_key[0].prefix}  # keys by prefix


def test_if_a_batch_of_100_is_cached_then_it_costs_one_query_and_three_dynamodb_calls(
    batch_client, make_profile, django_assert_num_queries, dynamodb_calls
):
    cpfs = generated_cpfs(100)
    for cpf in cpfs:
        make_profile(cpf)
    post(batch_client, {"cpfs": cpfs})  # computes and caches all; warms the key
    dynamodb_calls.clear()

    with django_assert_num_queries(1):  # the audit INSERT of 100 rows
        response = post(batch_client, {"cpfs": cpfs})

    assert {result["source"] for result in response.json()["results"]} == {"cache"}
    # A BatchGetItem takes 100 keys, and each call asks the cache's generation beside its
    # scores: 99 and 1. A batch of up to 99 distinct CPFs is one call (the test above).
    assert sorted(dynamodb_calls) == ["BatchGetItem", "BatchGetItem", "UpdateItem"]


def test_if_a_batch_is_not_cached_then_profiles_come_in_one_query_and_scores_go_in_batches(
    batch_client, make_profile, django_assert_num_queries, dynamodb_calls
):
    cpfs = generated_cpfs(30)
    for cpf in cpfs:
        make_profile(cpf)
    post(batch_client, {"cpfs": [UNKNOWN_CPF]})  # warms the key, opens its windows
    dynamodb_calls.clear()

    # The profiles, their versions again after the cache write, the audit INSERT.
    with django_assert_num_queries(3):
        response = post(batch_client, {"cpfs": cpfs})

    assert {result["source"] for result in response.json()["results"]} == {"computed"}
    assert sorted(dynamodb_calls[:2]) == ["BatchGetItem", "UpdateItem"]
    assert dynamodb_calls[2:] == ["BatchWriteItem", "BatchWriteItem"]  # 25 + 5
    again = post(batch_client, {"cpfs": cpfs})
    assert {result["source"] for result in again.json()["results"]} == {"cache"}


def test_if_a_batch_has_one_distinct_cpf_then_it_is_read_with_one_call(
    batch_client, make_profile, dynamodb_calls
):
    make_profile()

    response = post(batch_client, {"cpfs": [EXAMPLE_CPF, "52998224725"]})

    assert [result["source"] for result in response.json()["results"]] == ["computed"] * 2
    # The key's first count opens its windows in its one UpdateItem.
    assert sorted(dynamodb_calls) == ["BatchGetItem", "PutItem", "UpdateItem"]


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------
BAD_BATCHES = [
    pytest.param({"cpfs": [EXAMPLE_CPF] * 101}, "at most 100 CPFs", id="101-cpfs"),
    pytest.param({"cpfs": []}, "at least one CPF", id="empty"),
    pytest.param({"cpfs": EXAMPLE_CPF}, "a list of CPFs", id="not-a-list"),
    pytest.param({"cpfs": {"a": EXAMPLE_CPF}}, "a list of CPFs", id="an-object"),
    pytest.param({}, "cpfs: This field is required.", id="no-cpfs"),
    pytest.param({"cpf": EXAMPLE_CPF}, "Unknown field(s): cpf", id="single-score-body"),
    pytest.param({"cpfs": [EXAMPLE_CPF], "purpose": "marketing"}, "purpose", id="bad-purpose"),
    pytest.param(b"[1, 2", "not valid JSON", id="malformed-json"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BATCHES)
def test_if_the_batch_body_is_bad_then_it_is_refused_uncounted_with_one_audit_row(
    batch_client, body, message
):
    response = post(batch_client, body)

    assert response.status_code == 400
    assert error_code(response) == ErrorCode.INVALID_REQUEST
    assert message in response.json()["error"]["message"]
    assert "52998224725" not in response.content.decode()
    assert usage(batch_client)["daily_quota"]["used"] == 0
    row = Consultation.objects.get()
    assert (row.endpoint, row.outcome, row.cpf_hash) == ("scores_batch", "invalid_request", "")


def test_if_the_key_lacks_the_batch_scope_then_the_answer_is_insufficient_scope(client_with_key):
    response = post(client_with_key, {"cpfs": [EXAMPLE_CPF]})

    assert response.status_code == 403
    assert error_code(response) == ErrorCode.INSUFFICIENT_SCOPE
    assert "scores:batch" in response.json()["error"]["message"]


def test_if_no_key_is_sent_then_the_batch_is_refused_and_audited(db):
    response = post(APIClient(), {"cpfs": [EXAMPLE_CPF]})

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.MISSING_API_KEY
    assert Consultation.objects.get().outcome == "missing_api_key"


def test_if_a_batch_is_larger_than_the_key_may_score_per_minute_then_it_is_refused_by_name(
    issue_key, make_profile
):
    _, plaintext = issue_key(scopes=[Scope.SCORES_BATCH], rate_limit_per_minute=10)

    response = post(APIClient(), {"cpfs": [EXAMPLE_CPF] * 11 + ["bad"]}, HTTP_X_API_KEY=plaintext)

    assert response.status_code == 400
    assert error_code(response) == ErrorCode.INVALID_REQUEST
    assert response.json()["error"]["message"] == (
        "This request has 12 CPFs; this API key may score at most 10 per minute."
    )
    rows = Consultation.objects.all()
    assert len(rows) == 12
    assert {(row.outcome, row.http_status) for row in rows} == {("invalid_request", 400)}


def test_if_the_quota_has_less_room_than_the_batch_then_it_is_refused_whole_and_audited(
    issue_key, make_profile, django_assert_num_queries
):
    make_profile()
    _, plaintext = issue_key(scopes=[Scope.SCORES_BATCH], daily_quota=10)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)
    post(client, {"cpfs": [UNKNOWN_CPF] * 7})

    with django_assert_num_queries(1):  # nothing scored: no profile read, only the audit
        response = post(client, {"cpfs": [EXAMPLE_CPF, "bad", UNKNOWN_CPF, EXAMPLE_CPF]})

    assert response.status_code == 429
    assert error_code(response) == ErrorCode.QUOTA_EXCEEDED
    assert int(response["Retry-After"]) > 0
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("10", "3")
    assert usage(client)["daily_quota"]["used"] == 7  # the refused batch was not counted
    refused = Consultation.objects.filter(http_status=429).order_by("id")
    assert [row.outcome for row in refused] == ["quota_exceeded"] * 4
    assert [row.cpf_masked for row in refused] == [
        "***.982.247-**",
        "",
        "***.533.447-**",
        "***.982.247-**",
    ]


@pytest.mark.django_db(transaction=True)
def test_if_the_audit_cannot_be_written_then_no_item_is_answered_and_no_row_is_left(
    batch_client, make_profile
):
    make_profile()
    owner_sql("ALTER TABLE scores_consultation RENAME TO scores_consultation_away")
    try:
        response = post(batch_client, {"cpfs": [EXAMPLE_CPF, UNKNOWN_CPF, "bad"]})
    finally:
        owner_sql("ALTER TABLE scores_consultation_away RENAME TO scores_consultation")

    assert response.status_code == 503
    assert error_code(response) == ErrorCode.SERVICE_UNAVAILABLE
    assert "results" not in response.json()
    assert "975" not in response.content.decode()
    assert Consultation.objects.count() == 0


# ---------------------------------------------------------------------------------------
# Whatever the input: each item its own status, or the envelope; never a 500
# ---------------------------------------------------------------------------------------
UNREACHABLE_LIMIT = 1_000_000_000


@pytest.fixture
def fuzz_batch_client(issue_key, make_profile):
    make_profile()
    _, plaintext = issue_key(
        scopes=[Scope.SCORES_BATCH],
        rate_limit_per_minute=UNREACHABLE_LIMIT,
        daily_quota=UNREACHABLE_LIMIT,
    )
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)
    return client


def expected_item_status(item):
    cpf = cpf_outcome(item)
    if cpf is None:
        return "invalid_cpf"
    return "ok" if cpf == Cpf.parse(EXAMPLE_CPF) else "no_credit_data"


batch_bodies = st.builds(
    lambda fields, extra: {**extra, **fields},
    st.fixed_dictionaries(
        {},
        optional={
            "cpfs": st.one_of(
                st.lists(cpf_inputs, max_size=BATCH_MAX_CPFS + 3),
                st.lists(st.sampled_from([EXAMPLE_CPF, UNKNOWN_CPF, "123"]), max_size=110),
                json_values,
            ),
            "purpose": st.one_of(st.sampled_from(["credit_review", "collection"]), json_values),
        },
    ),
    st.one_of(
        st.just({}),
        st.dictionaries(
            st.text(max_size=12).filter(lambda name: name not in {"cpfs", "purpose"}),
            json_values,
            max_size=2,
        ),
    ),
)


@hypothesis_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=batch_bodies)
def test_if_any_json_object_is_batched_then_items_get_their_own_status_or_the_body_is_refused(
    fuzz_batch_client, body
):
    cpfs = body.get("cpfs")
    valid_body = (
        set(body) == {"cpfs"} | ({"purpose"} & set(body))
        and isinstance(cpfs, list)
        and 1 <= len(cpfs) <= BATCH_MAX_CPFS
        and body.get("purpose", "collection") in ("credit_review", "collection")
    )
    rows_before = Consultation.objects.count()

    response = post(fuzz_batch_client, body)

    if not valid_body:
        assert (response.status_code, error_code(response)) == (400, ErrorCode.INVALID_REQUEST)
        assert Consultation.objects.count() == rows_before + 1
        return
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["status"] for item in results] == [expected_item_status(c) for c in cpfs]
    assert Consultation.objects.count() == rows_before + len(cpfs)  # one row per item
    for cpf in filter(None, map(cpf_outcome, cpfs)):
        assert cpf.digits not in response.content.decode()
