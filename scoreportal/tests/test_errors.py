"""No failure anywhere reaches a client as HTML or a stack trace: always the envelope."""

from __future__ import annotations

import contextlib
import importlib
import uuid

import pytest
from django.test import Client

from accounts.exceptions import QuotaExceeded
from scoreportal.api.errors import as_api_error
from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError
from scores.exceptions import NoCreditData


def assert_envelope(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == {
        "error": {
            "code": code,
            "message": body["error"]["message"],
            "request_id": response["X-Request-ID"],
        }
    }
    uuid.UUID(response["X-Request-ID"])
    return body


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v2/scores", "/api/v1/scores/52998224725", "/static/nope.css"]
)
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_if_the_path_is_unknown_then_the_answer_is_a_json_404(client, settings, path, debug):
    settings.DEBUG = debug

    response = client.get(path)

    assert_envelope(response, 404, "not_found")
    assert "52998224725" not in response.content.decode()


def test_if_the_admin_path_is_unknown_then_the_admin_keeps_its_html_404(admin_client):
    response = admin_client.get("/admin/nope/nope/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("scoreportal.tests.failing_urls")
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_if_an_api_view_crashes_then_the_answer_is_a_json_500_without_details(settings, debug, db):
    settings.DEBUG = debug

    response = Client().get("/broken-api")

    body = assert_envelope(response, 500, "internal_error")
    assert "Traceback" not in body["error"]["message"]
    assert "529.982.247-25" not in response.content.decode()


@pytest.mark.urls("scoreportal.tests.failing_urls")
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_if_a_plain_view_crashes_then_the_answer_is_still_a_json_500(settings, debug, db):
    settings.DEBUG = debug

    response = Client(raise_request_exception=False).get("/broken-view")

    assert_envelope(response, 500, "internal_error")


@pytest.mark.urls("scoreportal.tests.failing_urls")
def test_if_the_database_fails_in_an_api_view_then_the_answer_is_503(db):
    response = Client().get("/database-down")

    assert_envelope(response, 503, "service_unavailable")


def test_if_the_host_is_not_allowed_then_the_answer_is_a_json_400(client):
    response = client.get("/api/v1/health", HTTP_HOST="evil.example.com")

    assert_envelope(response, 400, "invalid_request")


def test_if_requests_are_made_then_each_gets_its_own_request_id(client, db):
    ids = {client.get("/nope")["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


@pytest.mark.urls("scoreportal.tests.failing_urls")
def test_if_a_request_is_served_then_one_json_log_line_names_the_route_not_the_path(
    client, log_output, db
):
    response = Client().get("/broken-api?cpf=52998224725")
    client.get("/api/v1/scores/529.982.247-25")

    lines = [line for line in log_output() if line["logger"] == "scoreportal.request"]
    assert [line["status"] for line in lines] == [500, 404]
    assert lines[0]["request_id"] == response["X-Request-ID"]
    assert lines[0]["endpoint"] == "broken-api"
    assert lines[1]["endpoint"] is None
    everything = repr(log_output())
    assert "52998224725" not in everything
    assert "529.982.247-25" not in everything


def all_subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from all_subclasses(subclass)


def domain_errors():
    # Importing every app's exception module registers its subclasses.
    from django.apps import apps

    for app_config in apps.get_app_configs():
        if app_config.name in {"accounts", "audit", "scores", "scoreportal"}:
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"{app_config.name}.exceptions")
    return sorted(all_subclasses(ApplicationError), key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("error_class", domain_errors(), ids=lambda cls: cls.__name__)
def test_if_a_service_raises_a_domain_error_then_the_api_answers_its_code_never_500(error_class):
    error = as_api_error(error_class())

    assert isinstance(error_class.code, ErrorCode)
    assert error.code == error_class.code
    assert 400 <= error.status_code < 500 or error.status_code == 503
    assert error.message == error_class.default_message


def test_if_a_domain_error_declares_no_code_then_it_cannot_be_defined():
    with pytest.raises(TypeError, match="must declare its ErrorCode"):

        class Undeclared(ApplicationError):
            pass


def test_if_a_limit_refuses_a_request_then_the_answer_says_when_to_come_back():
    error = as_api_error(QuotaExceeded())

    assert (error.code, error.headers) == (ErrorCode.QUOTA_EXCEEDED, {"Retry-After": "86400"})


def test_if_a_domain_error_carries_a_message_then_the_envelope_shows_it():
    error = as_api_error(NoCreditData("There is no credit data for this CPF yet."))

    assert (error.code, error.message) == (
        ErrorCode.NO_CREDIT_DATA,
        "There is no credit data for this CPF yet.",
    )


@pytest.mark.parametrize("path", ["/nope", "/api/v1/scores/52998224725", "/static/nope.css"])
def test_if_the_path_is_unknown_then_the_404_keeps_the_security_headers(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("post", "/api/v1/scores", id="score"),
        pytest.param("get", "/api/v1/health", id="health"),
        pytest.param("get", "/api/schema", id="schema"),
        pytest.param("get", "/nope", id="not-found"),
    ],
)
def test_if_the_api_answers_then_it_says_no_store(client, db, method, path):
    response = getattr(client, method)(path)

    assert response["Cache-Control"] == "no-store"


def test_if_a_static_file_is_served_then_it_may_be_cached(client):
    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
