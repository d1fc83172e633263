"""A client IP no one can forge, for the audit trail and for a key's allowed networks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from devstack.lambda_invoke import SOURCE_IP, http_api_event, rest_api_event
from scoreportal.client_ip import client_ip
from scoreportal.error_codes import ErrorCode
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

FORGED = "1.2.3.4"


# ---------------------------------------------------------------------------------------
# Where the address comes from
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        pytest.param(rest_api_event("POST", "/api/v1/scores"), id="rest-api-v1"),
        pytest.param(http_api_event("POST", "/api/v1/scores"), id="http-api-v2"),
    ],
)
def test_if_a_request_comes_from_api_gateway_then_the_address_is_its_request_context(event):
    # Zappa sets REMOTE_ADDR from X-Forwarded-For, which the client writes.
    request = RequestFactory().post(
        "/api/v1/scores",
        REMOTE_ADDR=FORGED,
        HTTP_X_FORWARDED_FOR=f"{FORGED}, {SOURCE_IP}",
    )
    request.META["lambda.event"] = event

    assert client_ip(request) == SOURCE_IP


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        pytest.param(0, f"{FORGED}", "10.0.0.9", id="no-proxy-header-ignored"),
        pytest.param(1, f"{FORGED}, 198.51.100.7", "198.51.100.7", id="one-proxy-appends"),
        pytest.param(2, f"{FORGED}, 198.51.100.7, 10.0.0.1", "198.51.100.7", id="two-proxies"),
        pytest.param(2, "198.51.100.7", None, id="fewer-hops-than-proxies"),
        pytest.param(1, "not-an-address", None, id="garbage"),
        pytest.param(1, "2001:db8::1", "2001:db8::1", id="ipv6"),
    ],
)
def test_if_the_app_runs_behind_trusted_proxies_then_only_their_entries_are_believed(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


# ---------------------------------------------------------------------------------------
# A key's allowed networks
# ---------------------------------------------------------------------------------------
def score(address, plaintext, **extra):
    return APIClient().post(
        "/api/v1/scores",
        json.dumps({"cpf": EXAMPLE_CPF}),
        content_type="application/json",
        REMOTE_ADDR=address,
        HTTP_X_API_KEY=plaintext,
        **extra,
    )


@pytest.mark.usefixtures("score_table")
@pytest.mark.parametrize(
    ("networks", "address", "allowed"),
    [
        pytest.param([], "203.0.113.9", True, id="no-allowlist"),
        pytest.param(["192.0.2.0/24"], "192.0.2.77", True, id="inside-v4"),
        pytest.param(["192.0.2.0/24"], "192.0.3.1", False, id="outside-v4"),
        pytest.param(["192.0.2.0/24", "2001:db8::/32"], "2001:db8:1::5", True, id="inside-v6"),
        pytest.param(["2001:db8::/32"], "2001:db9::5", False, id="outside-v6"),
        pytest.param(["192.0.2.7/32"], "192.0.2.7", True, id="single-address"),
    ],
)
def test_if_a_key_lists_networks_then_only_those_addresses_may_use_it(
    issue_key, make_profile, networks, address, allowed
):
    make_profile()
    _, plaintext = issue_key(allowed_networks=networks)

    response = score(address, plaintext)

    row = Consultation.objects.get()
    assert row.client_ip == address
    if allowed:
        assert response.status_code == 200
        assert row.outcome == "scored"
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == ErrorCode.IP_NOT_ALLOWED
        assert response.has_header("RateLimit-Remaining")  # as documented in the schema
        assert (row.outcome, row.score) == (ErrorCode.IP_NOT_ALLOWED, None)


@pytest.mark.usefixtures("score_table")
def test_if_a_client_forges_x_forwarded_for_then_neither_audit_nor_allowlist_believe_it(
    issue_key, make_profile
):
    make_profile()
    _, plaintext = issue_key(allowed_networks=["1.2.3.0/24"])

    response = score("203.0.113.9", plaintext, HTTP_X_FORWARDED_FOR=FORGED)

    assert response.status_code == 403
    assert Consultation.objects.get().client_ip == "203.0.113.9"


@pytest.mark.usefixtures("score_table")
def test_if_a_request_gives_no_purpose_then_the_key_s_default_is_recorded(issue_key, make_profile):
    make_profile()
    _, plaintext = issue_key(default_purpose="fraud_prevention")

    score("203.0.113.9", plaintext)
    APIClient().post(
        "/api/v1/scores",
        json.dumps({"cpf": EXAMPLE_CPF, "purpose": "collection"}),
        content_type="application/json",
        HTTP_X_API_KEY=plaintext,
    )

    purposes = list(Consultation.objects.order_by("id").values_list("purpose", flat=True))
    assert purposes == ["fraud_prevention", "collection"]


# ---------------------------------------------------------------------------------------
# Through gunicorn: the same decisions on a real server, behind one trusted proxy
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_if_gunicorn_serves_behind_a_proxy_then_a_forged_header_changes_nothing(
    start_servers, issue_key, make_profile
):
    make_profile()
    _, plaintext = issue_key(allowed_networks=["198.51.100.0/24"])
    (server,) = start_servers(1, TRUSTED_PROXY_COUNT="1")

    def ask(forwarded):
        request = urllib.request.Request(  # noqa: S310 (loopback http)
            f"{server.url}/api/v1/scores",
            data=json.dumps({"cpf": EXAMPLE_CPF}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Api-Key": plaintext,
                "X-Forwarded-For": forwarded,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # What the proxy sends: the client's own header, then the address it saw.
    allowed = ask(f"{FORGED}, 198.51.100.7")
    refused = ask(f"198.51.100.7, {FORGED}")  # the client claims an allowed address

    assert (allowed, refused) == (200, 403)
    audited = list(Consultation.objects.order_by("id").values_list("client_ip", "outcome"))
    assert audited == [("198.51.100.7", "scored"), (FORGED, ErrorCode.IP_NOT_ALLOWED)]
