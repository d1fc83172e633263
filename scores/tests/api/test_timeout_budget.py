"""One timeout budget per request: the score cache, the per-key counters and the health check
share one cool-down for the DynamoDB endpoint (scoreportal.aws_clients.dynamodb_cool_down)."""

from __future__ import annotations

from rest_framework.test import APIClient

from devstack.faults import faulty_endpoint, silent
from scores.tests.fixtures import EXAMPLE_CPF


def test_if_the_endpoint_never_answers_then_only_a_fresh_worker_s_first_request_waits_on_it(
    settings, client_with_key, make_profile, log_output
):
    make_profile()
    with faulty_endpoint(silent) as endpoint:
        settings.DYNAMODB_ENDPOINT_URL = endpoint.url
        first = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
        sent_by_the_first = len(endpoint.requests)
        health = APIClient().get("/api/v1/health")
        second = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
        usage = client_with_key.get("/api/v1/usage")

    # The cache read and the counter, at the same time, two attempts each: one timeout.
    assert sent_by_the_first == 4
    # Then nothing waits on the endpoint until the cool-down ends: not the health check,
    # not the next request, not usage.
    assert len(endpoint.requests) == sent_by_the_first
    assert (first.status_code, first.json()["source"]) == (200, "computed")
    assert (second.status_code, second.json()["source"]) == (200, "computed")
    assert (health.status_code, health.json()["score_cache"]) == (200, "unavailable")
    assert (usage.status_code, usage.json()["counted"]) == (200, "this_instance_only")
    assert usage.json()["rate_limit"]["used"] == 2
    warnings = [line["message"] for line in log_output() if line["level"] == "WARNING"]
    assert sorted(warnings) == [
        "rate-limit counters unavailable; counting per process for 5.0s",
        "score cache read failed; skipping the cache for 5.0s",
    ]
