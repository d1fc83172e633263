"""The OpenAPI schema and Swagger UI: public, self-hosted (no CDN)."""

from __future__ import annotations

import re

import jsonschema
import pytest
from django.test import Client

from scoreportal.api.errors import ERROR_STATUS_AND_MESSAGE
from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF


@pytest.mark.parametrize("path", ["/api/schema", "/api/schema/"])
def test_if_the_schema_is_fetched_then_it_describes_the_score_api(client, db, path):
    response = client.get(path, HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/scores" in schema["paths"]
    operation = schema["paths"]["/api/v1/scores"]["post"]
    assert {"200", "400", "401", "403", "404", "413", "429", "503"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "X-Api-Key"


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/scores", "post", {"200", "400", "401", "403", "404", "413", "429", "503"}),
        ("/api/v1/scores/batch", "post", {"200", "400", "401", "403", "413", "429", "503"}),
        ("/api/v1/usage", "get", {"200", "400", "401", "403", "503"}),
    ],
)
# The RateLimit fields are on every answer to a valid key; a 401 has no valid key, usage's
# 400 (two different keys) has none either, and its 503 (the database is down) cannot read
# the key's usage.
def test_if_the_schema_describes_a_keyed_endpoint_then_errors_and_rate_limit_fields_are_there(
    client, db, path, method, statuses
):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    responses = schema["paths"][path][method]["responses"]
    assert set(responses) == statuses
    for status, response in responses.items():
        if status != "200":
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
        if status != "401" and (path, status) not in {
            ("/api/v1/usage", "400"),
            ("/api/v1/usage", "503"),
        }:
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                response["headers"]
            )
    if "429" in responses:
        assert "Retry-After" in responses["429"]["headers"]


def test_if_swagger_ui_is_opened_then_its_assets_come_from_our_static_files(client, db):
    response = client.get("/api/docs")

    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert sources
    assert all(s.startswith(("/static/", "/api/")) for s in sources), sources
    assert client.get(next(s for s in sources if s.endswith(".js"))).status_code == 200


@pytest.mark.parametrize("method", ["put", "delete", "patch", "options", "post"])
@pytest.mark.parametrize("path", ["/api/schema", "/api/docs"])
def test_if_the_documents_are_asked_with_another_method_then_the_answer_is_405(db, path, method):
    # As a server sees it: no CSRF cookie or token (the test client skips the check).
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_if_an_unknown_method_is_used_on_the_documents_then_the_answer_is_405(db):
    response = Client(enforce_csrf_checks=True).generic("PROPFIND", "/api/docs")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# ---------------------------------------------------------------------------------------
# Precise enough for a fuzzer (scores/tests/api/test_schema_fuzz.py) and a client generator
# ---------------------------------------------------------------------------------------
@pytest.fixture
def schema(client, db):
    return client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def assert_valid(schema, subschema, instance):
    """Validate against an OpenAPI schema object (its $refs resolved in the document)."""
    jsonschema.validate(instance, {**subschema, "components": schema["components"]})


def test_if_an_operation_documents_an_error_status_then_each_code_of_it_has_an_example(schema):
    for name, operation in operations(schema):
        for status, response in operation["responses"].items():
            content = response["content"]["application/json"]
            if content["schema"] != {"$ref": "#/components/schemas/Error"}:
                continue
            codes = [example["value"]["error"]["code"] for example in content["examples"].values()]
            assert codes, (name, status)
            assert response["description"].startswith(", ".join(codes)), (name, status)
            for code in codes:
                assert ERROR_STATUS_AND_MESSAGE[ErrorCode(code)][0] == int(status), (name, code)


def test_if_the_schema_shows_examples_then_each_is_valid_against_its_own_schema(schema):
    shown = 0
    for _name, operation in operations(schema):
        bodies = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
        bodies += [
            r.get("content", {}).get("application/json") for r in operation["responses"].values()
        ]
        for body in filter(None, bodies):
            for example in body.get("examples", {}).values():
                assert_valid(schema, body["schema"], example["value"])
                shown += 1
    assert shown >= 30


def test_if_a_request_body_has_an_unknown_field_then_the_schema_already_refuses_it(schema):
    for name in ("ScoreRequest", "ScoreBatchRequest"):
        assert schema["components"]["schemas"][name]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("cpf", "matches"),
    [
        pytest.param(EXAMPLE_CPF, True, id="formatted"),
        pytest.param("52998224725", True, id="bare"),
        pytest.param(f" {OTHER_EXAMPLE_CPF}\n", True, id="surrounding-whitespace"),
        pytest.param("529982247-25", False, id="partly-formatted"),
        pytest.param("5299822472", False, id="10-digits"),
        pytest.param("\uff15" * 11, False, id="full-width-digits"),
    ],
)
def test_if_a_cpf_is_sent_then_the_schema_pattern_tells_its_form_as_the_api_does(
    schema, cpf, matches
):
    cpf_schema = schema["components"]["schemas"]["ScoreRequest"]["properties"]["cpf"]

    assert (re.search(cpf_schema["pattern"], cpf) is not None) is matches
    assert cpf_schema["format"] == "cpf"


def test_if_a_batch_item_is_answered_then_its_status_says_which_fields_it_has(schema):
    result = schema["components"]["schemas"]["ScoreBatchResult"]

    assert result["discriminator"]["propertyName"] == "status"
    assert set(result["discriminator"]["mapping"]) == {
        "ok",
        "invalid_cpf",
        "no_credit_data",
        "score_suspended",
    }
    ok_item = {"$ref": result["discriminator"]["mapping"]["ok"]}
    with pytest.raises(jsonschema.ValidationError):
        assert_valid(schema, ok_item, {"status": "ok", "cpf": "***.982.247-**"})
