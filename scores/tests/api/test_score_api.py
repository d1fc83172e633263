"""POST /api/v1/scores end to end: real Postgres, real DynamoDB endpoint, real auth."""

from __future__ import annotations

import json
import socket
import sys
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.constants import Purpose, Scope
from accounts.services import api_key_revoke
from conftest import owner_sql
from devstack.services import free_port, moto_server
from scoreportal.error_codes import ErrorCode
from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.models import Consultation
from scores.tests.api.strategies import (
    cpf_inputs,
    cpf_outcome,
    json_scalars,
    json_values,
    nested,
    valid_cpf_inputs,
)
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

# The valid CPF 529.982.247-25 in digits that str.isdigit() accepts but the CPF rules do not.
FULL_WIDTH_DIGITS = "".join(chr(0xFF10 + int(d)) for d in "52998224725")
ARABIC_INDIC_DIGITS = "".join(chr(0x0660 + int(d)) for d in "52998224725")
URL = "/api/v1/scores"

pytestmark = pytest.mark.usefixtures("score_table")


def post(client, body, **headers):
    """POST a raw JSON body (or any bytes) as a client would."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.generic("POST", URL, data, content_type="application/json", **headers)


def error_code(response):
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]["code"]


# ---------------------------------------------------------------------------------------
# Success
# ---------------------------------------------------------------------------------------
def test_if_a_known_cpf_is_queried_then_the_score_has_the_spec_shape(client_with_key, make_profile):
    make_profile()

    response = post(client_with_key, {"cpf": EXAMPLE_CPF})

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "cpf": "***.982.247-**",
        "score": 975,
        "band": "excellent",
        "probability_of_default": 0.0005,
        "reasons": [
            {"code": "R07", "description": "Many credit applications in the last 90 days"},
            {"code": "R08", "description": "Short credit history"},
        ],
        "model_version": "2026.1",
        "computed_at": body["computed_at"],
        "source": "computed",
        "under_dispute": False,
        "request_id": response["X-Request-ID"],
    }
    assert body["computed_at"].endswith("Z")


def test_if_the_same_cpf_comes_formatted_then_bare_then_the_second_answer_is_from_the_cache(
    client_with_key, make_profile
):
    make_profile()

    first = post(client_with_key, {"cpf": "529.982.247-25"}).json()
    second = post(client_with_key, {"cpf": "52998224725"}).json()

    assert first["source"] == "computed"
    assert second["source"] == "cache"
    for field in ("cpf", "score", "band", "probability_of_default", "reasons", "computed_at"):
        assert first[field] == second[field]


@pytest.mark.parametrize("path", [URL, URL + "/"], ids=["no-slash", "trailing-slash"])
def test_if_the_path_has_a_trailing_slash_or_not_then_it_answers_without_redirect(
    client_with_key, make_profile, path
):
    make_profile()

    response = client_with_key.post(path, {"cpf": EXAMPLE_CPF}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda key: {"HTTP_AUTHORIZATION": f"Api-Key {key}"}, id="authorization"),
        pytest.param(lambda key: {"HTTP_AUTHORIZATION": f"api-key  {key} "}, id="scheme-any-case"),
        pytest.param(lambda key: {"HTTP_X_API_KEY": key}, id="x-api-key"),
    ],
)
def test_if_the_key_comes_in_either_header_then_it_is_accepted(api_key, make_profile, headers):
    make_profile()

    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, **headers(api_key[1]))

    assert response.status_code == 200


@pytest.mark.parametrize("purpose", Purpose.values)
def test_if_a_purpose_is_given_then_it_is_recorded(client_with_key, make_profile, purpose):
    make_profile()

    post(client_with_key, {"cpf": EXAMPLE_CPF, "purpose": purpose})

    assert Consultation.objects.get().purpose == purpose


def test_if_no_purpose_is_given_then_credit_analysis_is_recorded(client_with_key, make_profile):
    make_profile()

    post(client_with_key, {"cpf": EXAMPLE_CPF})

    assert Consultation.objects.get().purpose == Purpose.CREDIT_ANALYSIS


# ---------------------------------------------------------------------------------------
# Bad input: always the envelope, never a 500 or HTML
# ---------------------------------------------------------------------------------------
BAD_CPFS = [
    pytest.param("5299822472a", id="letters"),
    pytest.param("5299822472", id="10-digits"),
    pytest.param("529982247250", id="12-digits"),
    pytest.param("111.111.111-11", id="repeated-digits"),
    pytest.param("52998224724", id="wrong-check-digit"),
    pytest.param(FULL_WIDTH_DIGITS, id="full-width-digits"),
    pytest.param(ARABIC_INDIC_DIGITS, id="arabic-indic-digits"),
    pytest.param("529.982.247.25", id="mixed-separators"),
    pytest.param("529982.247-25", id="partly-formatted"),
    pytest.param("", id="empty"),
    pytest.param(None, id="null"),
    pytest.param(52998224725, id="number"),
    pytest.param(5.2998224725e10, id="float"),
    pytest.param(True, id="boolean"),
    pytest.param(["52998224725"], id="list"),
    pytest.param({"digits": "52998224725"}, id="object"),
    pytest.param("5" * 5000, id="very-long"),
    pytest.param("\ud800", id="lone-surrogate"),
]


@pytest.mark.parametrize("cpf", BAD_CPFS)
def test_if_the_cpf_is_bad_then_the_answer_is_invalid_cpf(client_with_key, cpf):
    response = post(client_with_key, {"cpf": cpf})

    assert response.status_code == 400
    assert error_code(response) == ErrorCode.INVALID_CPF
    assert "52998224725" not in response.content.decode()


BAD_REQUESTS = [
    pytest.param(b"{not json", "invalid_request", 400, id="malformed-json"),
    pytest.param(b"", "invalid_request", 400, id="empty-body"),
    pytest.param(b"[]", "invalid_request", 400, id="array-body"),
    pytest.param(b'"52998224725"', "invalid_request", 400, id="string-body"),
    pytest.param(b"null", "invalid_request", 400, id="null-body"),
    pytest.param(b"{}", "invalid_request", 400, id="no-cpf"),
    pytest.param(b'{"cpf": NaN}', "invalid_request", 400, id="nan"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "payload_too_large", 413, id="too-large"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, "invalid_request", 400, id="deeply-nested"),
    pytest.param(b"\xff\xfe\x00garbage", "invalid_request", 400, id="not-utf8"),
    pytest.param('{"cpf": "52998224725"}'.encode("utf-16"), "invalid_request", 400, id="utf-16"),
    pytest.param(
        b'{"cpf": "111.444.777-35", "cpf": "52998224725"}',
        "invalid_request",
        400,
        id="duplicate-field",
    ),
    pytest.param(b"[" * 33 + b"]" * 33, "invalid_request", 400, id="33-levels-deep"),
    pytest.param(b'{"cpf": Infinity}', "invalid_request", 400, id="infinity"),
    pytest.param(
        b'{"cpf": "52998224725", "purpose": "marketing"}', "invalid_request", 400, id="bad-purpose"
    ),
    pytest.param(
        b'{"cpf": "52998224725", "purpse": "collection"}',
        "invalid_request",
        400,
        id="unknown-field",
    ),
    pytest.param(
        b'{"cpf": "52998224725", "52998224725": 1}', "invalid_request", 400, id="cpf-as-field-name"
    ),
]


@pytest.mark.parametrize(("body", "code", "status"), BAD_REQUESTS)
def test_if_the_body_is_bad_then_the_answer_is_the_error_envelope(
    client_with_key, body, code, status
):
    response = post(client_with_key, body)

    assert response.status_code == status
    assert error_code(response) == code
    assert "52998224725" not in response.content.decode()


def test_if_the_body_starts_with_a_byte_order_mark_then_it_is_ignored(fuzz_client):
    response = post(fuzz_client, b"\xef\xbb\xbf" + json.dumps({"cpf": EXAMPLE_CPF}).encode())

    assert response.status_code == 200


def test_if_a_field_is_sent_twice_then_the_message_names_it_without_the_values(client_with_key):
    response = post(client_with_key, b'{"cpf": "52998224725", "cpf": "111.444.777-35"}')

    assert response.json()["error"]["message"] == "The field 'cpf' appears more than once."


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
def test_if_the_body_is_not_json_then_the_answer_is_invalid_request(client_with_key, content_type):
    response = client_with_key.generic("POST", URL, "cpf=52998224725", content_type=content_type)

    assert response.status_code == 400
    assert error_code(response) == ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_if_the_method_is_not_post_then_the_answer_is_method_not_allowed(client_with_key, method):
    response = getattr(client_with_key, method)(URL)

    assert response.status_code == 405
    assert error_code(response) == ErrorCode.METHOD_NOT_ALLOWED


def test_if_the_method_is_head_then_the_answer_is_405_without_a_body(client_with_key):
    response = client_with_key.head(URL)

    assert response.status_code == 405
    assert response.content == b""


def test_if_the_client_accepts_only_html_then_the_answer_is_still_json(
    client_with_key, make_profile
):
    make_profile()

    response = post(client_with_key, {"cpf": EXAMPLE_CPF}, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_if_the_cpf_has_no_profile_then_the_answer_is_no_credit_data(client_with_key):
    response = post(client_with_key, {"cpf": OTHER_EXAMPLE_CPF})

    assert response.status_code == 404
    assert error_code(response) == ErrorCode.NO_CREDIT_DATA


# ---------------------------------------------------------------------------------------
# Authentication and scope
# ---------------------------------------------------------------------------------------
def test_if_no_key_is_sent_then_the_answer_is_missing_api_key(db):
    response = post(APIClient(), {"cpf": EXAMPLE_CPF})

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.MISSING_API_KEY
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda real: real[:-1] + ("A" if real[-1] != "A" else "B"), id="wrong-secret"),
        pytest.param(lambda real: "Zz9Zz9Zz." + real.split(".")[1], id="unknown-prefix"),
        pytest.param(lambda real: real.split(".")[0], id="prefix-only"),
        pytest.param(lambda real: "not a key at all", id="garbage"),
        pytest.param(lambda real: "52998224725", id="cpf-as-key"),
    ],
)
def test_if_the_key_is_wrong_then_the_answer_is_invalid_api_key(api_key, key):
    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=key(api_key[1]))

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.INVALID_API_KEY


def test_if_the_key_has_expired_then_the_answer_is_api_key_expired(issue_key):
    _, plaintext = issue_key(expiry_date=timezone.now() + timedelta(minutes=1))

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        response = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=plaintext)

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.API_KEY_EXPIRED


def test_if_the_key_was_revoked_then_the_answer_is_api_key_revoked(api_key):
    api_key_revoke(api_key=api_key[0])

    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=api_key[1])

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.API_KEY_REVOKED


def test_if_a_revoked_key_is_used_then_its_audit_row_names_its_organization(api_key):
    key, plaintext = api_key
    api_key_revoke(api_key=key)
    wrong_secret = f"{key.prefix}.{'x' * len(plaintext.split('.')[1])}"

    revoked = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=plaintext)
    forged = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=wrong_secret)

    rows = {row.request_id: row for row in Consultation.objects.filter(api_key_prefix=key.prefix)}
    # The secret was verified: whose key it was is known, and the auditors filter by it.
    assert rows[uuid.UUID(revoked["X-Request-ID"])].organization_id == key.organization_id
    # A guessed secret proves nothing: the prefix is recorded, the organization is not.
    assert rows[uuid.UUID(forged["X-Request-ID"])].organization_id is None


def test_if_the_organization_is_inactive_then_the_key_is_refused(api_key, organization):
    organization.is_active = False
    organization.save()

    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=api_key[1])

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.INVALID_API_KEY


def test_if_the_key_lacks_the_scope_then_the_answer_is_insufficient_scope(issue_key):
    _, plaintext = issue_key(scopes=[Scope.SCORES_BATCH])

    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=plaintext)

    assert response.status_code == 403
    assert error_code(response) == ErrorCode.INSUFFICIENT_SCOPE


def test_if_two_different_keys_are_sent_then_the_answer_is_invalid_request(api_key, issue_key):
    _, other = issue_key(name="other")

    response = post(
        APIClient(),
        {"cpf": EXAMPLE_CPF},
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
        HTTP_X_API_KEY=other,
    )

    assert response.status_code == 400
    assert error_code(response) == ErrorCode.INVALID_REQUEST
    assert "Two different API keys" in response.json()["error"]["message"]
    assert Consultation.objects.get().outcome == ErrorCode.INVALID_REQUEST


def test_if_the_same_key_is_sent_in_both_headers_then_it_is_accepted(api_key, make_profile):
    make_profile()

    response = post(
        APIClient(),
        {"cpf": EXAMPLE_CPF},
        HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
        HTTP_X_API_KEY=api_key[1],
    )

    assert response.status_code == 200


def test_if_the_key_is_in_the_query_string_then_it_is_ignored(api_key):
    response = APIClient().generic(
        "POST",
        f"{URL}?api_key={api_key[1]}",
        json.dumps({"cpf": EXAMPLE_CPF}),
        content_type="application/json",
    )

    assert response.status_code == 401
    assert error_code(response) == ErrorCode.MISSING_API_KEY


# ---------------------------------------------------------------------------------------
# Audit: one row per request, written before the response
# ---------------------------------------------------------------------------------------
def test_if_a_score_is_served_then_its_audit_row_holds_the_facts(
    client_with_key, api_key, make_profile, settings
):
    make_profile()

    response = post(client_with_key, {"cpf": EXAMPLE_CPF, "purpose": "credit_review"})

    row = Consultation.objects.get()
    assert str(row.request_id) == response["X-Request-ID"]
    assert row.organization == api_key[0].organization
    assert row.api_key == api_key[0]
    assert row.api_key_prefix == api_key[0].prefix
    assert row.client_ip == "127.0.0.1"
    assert row.endpoint == "scores"
    assert row.purpose == "credit_review"
    assert row.cpf_hash == Cpf.parse(EXAMPLE_CPF).lookup_hash(settings.CPF_HASH_KEY)
    assert row.cpf_masked == "***.982.247-**"
    assert (row.outcome, row.http_status) == ("scored", 200)
    assert (row.score, row.band, row.model_version, row.source) == (
        975,
        "excellent",
        "2026.1",
        "computed",
    )
    assert row.latency_ms >= 0


@pytest.mark.parametrize(
    ("make_request", "outcome", "status", "has_cpf"),
    [
        pytest.param(
            lambda c, k: post(c, {"cpf": "123"}, HTTP_X_API_KEY=k),
            "invalid_cpf",
            400,
            False,
            id="bad-cpf",
        ),
        pytest.param(
            lambda c, k: post(c, b"{", HTTP_X_API_KEY=k),
            "invalid_request",
            400,
            False,
            id="bad-json",
        ),
        pytest.param(
            lambda c, k: post(c, {"cpf": OTHER_EXAMPLE_CPF}, HTTP_X_API_KEY=k),
            "no_credit_data",
            404,
            True,
            id="unknown-cpf",
        ),
        pytest.param(
            lambda c, k: post(c, {"cpf": EXAMPLE_CPF}), "missing_api_key", 401, False, id="no-key"
        ),
        pytest.param(
            lambda c, k: c.get(URL, HTTP_X_API_KEY=k), "method_not_allowed", 405, False, id="get"
        ),
    ],
)
def test_if_a_request_fails_then_it_still_leaves_exactly_one_audit_row(
    api_key, make_request, outcome, status, has_cpf
):
    response = make_request(APIClient(), api_key[1])

    assert response.status_code == status
    row = Consultation.objects.get()
    assert (row.outcome, row.http_status) == (outcome, status)
    assert bool(row.cpf_hash) is has_cpf
    assert row.score is None


def test_if_authentication_fails_then_the_audit_row_keeps_the_presented_prefix(api_key):
    wrong = api_key[1][:-4] + "0000"

    post(APIClient(), {"cpf": EXAMPLE_CPF}, HTTP_X_API_KEY=wrong)

    row = Consultation.objects.get()
    assert row.outcome == ErrorCode.INVALID_API_KEY
    assert row.api_key is None
    assert row.api_key_prefix == api_key[0].prefix


def test_if_a_mix_of_requests_is_made_then_each_leaves_exactly_one_row(
    client_with_key, make_profile
):
    make_profile()
    bodies = [
        {"cpf": EXAMPLE_CPF},
        {"cpf": "bad"},
        {"cpf": OTHER_EXAMPLE_CPF},
        b"{",
        {"cpf": EXAMPLE_CPF},
    ]

    request_ids = {post(client_with_key, body)["X-Request-ID"] for body in bodies}

    assert Consultation.objects.count() == len(bodies)
    assert {
        str(r) for r in Consultation.objects.values_list("request_id", flat=True)
    } == request_ids


@pytest.mark.django_db(transaction=True)
def test_if_the_audit_table_is_unwritable_then_the_answer_is_503_without_a_score(
    client_with_key, make_profile, log_output
):
    make_profile()
    owner_sql("ALTER TABLE scores_consultation RENAME TO scores_consultation_away")
    try:
        response = post(client_with_key, {"cpf": EXAMPLE_CPF})
    finally:
        owner_sql("ALTER TABLE scores_consultation_away RENAME TO scores_consultation")

    assert response.status_code == 503
    assert error_code(response) == ErrorCode.SERVICE_UNAVAILABLE
    assert b"score" not in response.content.replace(b"no score", b"")
    assert "975" not in response.content.decode()
    request_line = next(line for line in log_output() if line["logger"] == "scoreportal.request")
    assert (request_line["status"], request_line["outcome"]) == (503, "service_unavailable")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", URL, {"cpf": EXAMPLE_CPF}, id="score"),
        pytest.param("POST", "/api/v1/scores/batch", {"cpfs": [EXAMPLE_CPF]}, id="batch"),
        pytest.param("GET", "/api/v1/usage", None, id="usage"),
    ],
)
def test_if_the_database_is_down_when_the_key_must_be_read_then_the_answer_is_503(
    api_key, method, path, body, log_output
):
    from django.db import connection

    from accounts.selectors import recent_keys

    recent_keys.clear()  # authenticating the key needs the database
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    connection.close()
    original = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        response = client.generic(method, path, json.dumps(body), content_type="application/json")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original

    # Not a 500: authentication's database error is a failed authentication to DRF, so the
    # audit's second look at the key does not query the database again.
    assert response.status_code == 503
    assert error_code(response) == ErrorCode.SERVICE_UNAVAILABLE
    assert not [
        line for line in log_output() if line["logger"] == "django.request" and "exception" in line
    ]


# ---------------------------------------------------------------------------------------
# Round trips of the hot path
# ---------------------------------------------------------------------------------------
def test_if_a_cached_score_is_served_then_it_costs_one_query_and_two_concurrent_dynamodb_calls(
    client_with_key, make_profile, django_assert_num_queries, dynamodb_calls
):
    make_profile()
    post(client_with_key, {"cpf": EXAMPLE_CPF})  # computes, caches; the key is now warm
    dynamodb_calls.clear()

    # Only the audit INSERT: the key comes from this process's recent keys, the score
    # from DynamoDB; the profile is not read. The counter update and the cache read run
    # at the same time, so their order is not fixed.
    with django_assert_num_queries(1):
        response = post(client_with_key, {"cpf": EXAMPLE_CPF})

    assert response.json()["source"] == "cache"
    # The score's item and the cache's generation come in one BatchGetItem.
    assert sorted(dynamodb_calls) == ["BatchGetItem", "UpdateItem"]


def test_if_a_score_is_computed_then_it_costs_two_queries_and_three_dynamodb_calls(
    client_with_key, make_profile, django_assert_num_queries, dynamodb_calls
):
    make_profile()
    post(client_with_key, {"cpf": OTHER_EXAMPLE_CPF})  # warms the key, opens its windows
    dynamodb_calls.clear()

    with django_assert_num_queries(2):  # the profile, the audit INSERT
        response = post(client_with_key, {"cpf": EXAMPLE_CPF})

    assert response.json()["source"] == "computed"
    assert sorted(dynamodb_calls[:2]) == ["BatchGetItem", "UpdateItem"]
    assert dynamodb_calls[2:] == ["PutItem"]  # after both


def test_if_the_key_is_cold_then_it_costs_one_more_query(
    client_with_key, make_profile, django_assert_num_queries, settings
):
    make_profile()
    post(client_with_key, {"cpf": EXAMPLE_CPF})
    settings.API_KEY_CACHE_SECONDS = 0

    with django_assert_num_queries(2):  # the key with its organization, the audit INSERT
        post(client_with_key, {"cpf": EXAMPLE_CPF})


# ---------------------------------------------------------------------------------------
# DynamoDB down
# ---------------------------------------------------------------------------------------
def test_if_the_dynamodb_endpoint_stops_then_scores_are_still_served_within_a_second(
    client_with_key, make_profile, settings
):
    make_profile()
    with moto_server() as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint
        score_cache.ensure_table()
        assert post(client_with_key, {"cpf": EXAMPLE_CPF}).json()["source"] == "computed"
        assert post(client_with_key, {"cpf": EXAMPLE_CPF}).json()["source"] == "cache"
    # The server is stopped now: connections to it are refused.

    durations, sources = [], []
    for _ in range(3):
        started = time.monotonic()
        response = post(client_with_key, {"cpf": EXAMPLE_CPF})
        durations.append(time.monotonic() - started)
        sources.append(response.json()["source"])

    assert sources == ["computed"] * 3
    assert max(durations) < 1.0


@pytest.fixture
def silent_endpoint():
    """A loopback server that accepts connections and never answers (a black hole)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_if_dynamodb_never_answers_then_timeouts_keep_each_request_under_a_second(
    client_with_key, make_profile, settings, silent_endpoint
):
    make_profile()
    settings.DYNAMODB_ENDPOINT_URL = silent_endpoint

    durations, sources = [], []
    for _ in range(3):
        started = time.monotonic()
        response = post(client_with_key, {"cpf": EXAMPLE_CPF})
        durations.append(time.monotonic() - started)
        sources.append(response.json()["source"])

    assert sources == ["computed"] * 3
    assert max(durations) < 1.0


# ---------------------------------------------------------------------------------------
# Whatever the input: the envelope, never a 500
# ---------------------------------------------------------------------------------------
UNREACHABLE_LIMIT = 1_000_000_000
UTF8_BOM = b"\xef\xbb\xbf"
ENVELOPE_CODES = {400: {"invalid_cpf", "invalid_request"}, 404: {"no_credit_data"}}


@pytest.fixture
def fuzz_client(issue_key, make_profile):
    """A client whose key no fuzz run can exhaust; the published CPF has a profile."""
    make_profile()
    _, plaintext = issue_key(rate_limit_per_minute=UNREACHABLE_LIMIT, daily_quota=UNREACHABLE_LIMIT)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)
    return client


def expected_answer(body):
    """What POST /api/v1/scores answers for a JSON object: status, error code."""
    if set(body) - {"cpf", "purpose"}:
        return 400, ErrorCode.INVALID_REQUEST
    if "cpf" in body and cpf_outcome(body["cpf"]) is None:
        return 400, ErrorCode.INVALID_CPF  # even when the purpose is bad too
    if "cpf" not in body or ("purpose" in body and body["purpose"] not in Purpose.values):
        return 400, ErrorCode.INVALID_REQUEST
    if cpf_outcome(body["cpf"]) == Cpf.parse(EXAMPLE_CPF):
        return 200, None
    return 404, ErrorCode.NO_CREDIT_DATA


score_bodies = st.builds(
    lambda fields, extra: {**extra, **fields},
    st.fixed_dictionaries(
        {},
        optional={
            "cpf": cpf_inputs,
            "purpose": st.one_of(st.sampled_from(Purpose.values), json_values),
        },
    ),
    st.one_of(
        st.just({}),
        st.dictionaries(
            st.text(max_size=12).filter(lambda name: name not in {"cpf", "purpose"}),
            json_values,
            max_size=2,
        ),
    ),
)


@hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=score_bodies)
def test_if_any_json_object_is_posted_then_the_answer_is_the_one_its_fields_call_for(
    fuzz_client, body
):
    rows_before = Consultation.objects.count()

    response = post(fuzz_client, body)

    assert (
        response.status_code,
        None if response.status_code == 200 else error_code(response),
    ) == (expected_answer(body))
    assert Consultation.objects.count() == rows_before + 1  # exactly one audit row, always
    cpf = cpf_outcome(body.get("cpf"))
    if cpf is not None:
        assert cpf.digits not in response.content.decode()


MAX_INT_DIGITS = sys.get_int_max_str_digits()
# Hostile bodies, each with the answer it must get: (body, status, code); code None: any
# code of the envelope for that status.
hostile_bodies = st.one_of(
    # A byte order mark is ignored (RFC 8259 §8.1 allows it).
    st.just((UTF8_BOM + json.dumps({"cpf": EXAMPLE_CPF}).encode(), 200, None)),
    # The same field twice: which did the client mean? Another reader may keep the first.
    st.builds(
        lambda first, second: (
            f'{{"cpf": {json.dumps(first)}, "cpf": {json.dumps(second)}}}'.encode(),
            400,
            ErrorCode.INVALID_REQUEST,
        ),
        cpf_inputs,
        cpf_inputs,
    ),
    # Nested past the limit (32), up to far past Python's recursion limit.
    st.builds(
        lambda depth, value: (
            f'{{"cpf": {nested(value, depth)}}}'.encode(),
            400,
            ErrorCode.INVALID_REQUEST,
        ),
        st.integers(min_value=32, max_value=25_000),
        json_scalars,
    ),
    st.builds(
        lambda depth: (nested("52998224725", depth).encode(), 400, ErrorCode.INVALID_REQUEST),
        st.integers(min_value=1, max_value=25_000),
    ),
    # NaN and the infinities are not JSON, wherever they are.
    st.builds(
        lambda name, where: (where.format(name).encode(), 400, ErrorCode.INVALID_REQUEST),
        st.sampled_from(["NaN", "Infinity", "-Infinity"]),
        st.sampled_from(['{{"cpf": {}}}', '{{"cpf": "52998224725", "purpose": [{}]}}', "{}"]),
    ),
    # JSON in another encoding than UTF-8.
    st.builds(
        lambda cpf, encoding: (
            json.dumps({"cpf": cpf}).encode(encoding),
            400,
            ErrorCode.INVALID_REQUEST,
        ),
        valid_cpf_inputs,
        st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-32-le"]),
    ),
    # Bytes that are not UTF-8 inside a string.
    st.builds(
        lambda garbage: (b'{"cpf": "5299822' + garbage + b'4725"}', 400, ErrorCode.INVALID_REQUEST),
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]),
    ),
    # Integers of any size: a number is not a CPF; past Python's digit limit, not JSON to us.
    st.builds(
        lambda digits: (
            b'{"cpf": ' + b"9" * digits + b"}",
            400,
            ErrorCode.INVALID_CPF if digits <= MAX_INT_DIGITS else ErrorCode.INVALID_REQUEST,
        ),
        st.integers(min_value=1, max_value=20_000),
    ),
    st.builds(
        lambda exponent: (
            f'{{"cpf": 1e{exponent}}}'.encode(),
            400,
            ErrorCode.INVALID_CPF,
        ),
        st.integers(min_value=300, max_value=100_000),
    ),
    # Past 64 KiB, whatever it is.
    st.builds(
        lambda padding: (
            b'{"cpf": "52998224725"' + b" " * padding + b"}",
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
        ),
        st.integers(min_value=65_536 - 21, max_value=200_000),  # 1 byte over, and more
    ),
    # A valid body cut short.
    st.builds(
        lambda length: (
            json.dumps({"cpf": EXAMPLE_CPF, "purpose": "collection"}).encode()[:length],
            400,
            ErrorCode.INVALID_REQUEST,
        ),
        st.integers(min_value=0, max_value=44),
    ),
    # Anything at all.
    st.builds(lambda data: (data, None, None), st.binary(max_size=300)),
)


@hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hostile=hostile_bodies)
def test_if_a_hostile_body_is_posted_then_the_answer_is_its_envelope_never_a_500(
    fuzz_client, hostile
):
    body, status, code = hostile

    response = post(fuzz_client, body)

    assert response["Content-Type"] == "application/json"
    expected = {status} if status else {400, 404, 413}
    assert response.status_code in expected, body[:200]
    if response.status_code != 200:
        assert error_code(response) == code if code else ENVELOPE_CODES[response.status_code]
    assert "52998224725" not in response.content.decode()


@hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    headers=st.dictionaries(
        st.sampled_from(["HTTP_AUTHORIZATION", "HTTP_X_API_KEY"]),
        st.one_of(
            st.text(st.characters(max_codepoint=255), max_size=300),
            st.text(st.characters(max_codepoint=255), max_size=40).map("Api-Key {}".format),
            st.from_regex(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{16,140}", fullmatch=True),
        ),
    )
)
def test_if_any_key_headers_are_sent_then_the_answer_is_a_401_or_400_never_a_500(db, headers):
    response = post(APIClient(), {"cpf": EXAMPLE_CPF}, **headers)

    assert (response.status_code, error_code(response)) in {
        (401, ErrorCode.MISSING_API_KEY),
        (401, ErrorCode.INVALID_API_KEY),
        (400, ErrorCode.INVALID_REQUEST),  # two different keys
    }


def test_if_a_score_is_served_then_its_audit_row_keeps_each_characteristic_s_bin(
    client_with_key, make_profile, score_table, dynamodb
):
    from scores.selectors import scorecard_get

    profile = make_profile()
    profile.refresh_from_db()  # its decimals as stored, not as typed
    expected = scorecard_get("2026.1").score(profile.characteristics()).bins

    post(client_with_key, {"cpf": EXAMPLE_CPF})  # computed, then cached with its bins
    post(client_with_key, {"cpf": EXAMPLE_CPF})
    # An item cached before bins were kept: served as it is, its row without bins.
    [item] = [i for i in dynamodb.scan(TableName=score_table)["Items"] if "score" in i]
    del item["bins"]
    dynamodb.put_item(TableName=score_table, Item=item)
    post(client_with_key, {"cpf": EXAMPLE_CPF})

    rows = Consultation.objects.order_by("occurred_at", "id")
    assert len(expected) == 9
    assert [(row.source, row.characteristic_bins) for row in rows] == [
        ("computed", ",".join(map(str, expected))),
        ("cache", ",".join(map(str, expected))),
        ("cache", ""),
    ]
