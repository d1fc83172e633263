"""The OpenAPI schema and Swagger UI: public, self-hosted (no CDN)."""

from __future__ import annotations

import re

import pytest


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
        ("/api/v1/usage", "get", {"200", "401", "403", "503"}),
    ],
)
# The RateLimit fields are on every answer to a valid key; a 401 has no valid key, and
# usage's 503 (the database is down) cannot read the key's usage.
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
        if status != "401" and (path, status) != ("/api/v1/usage", "503"):
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
def test_if_the_documents_are_asked_with_another_method_then_the_answer_is_405(
    client, db, path, method
):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_if_an_unknown_method_is_used_on_the_documents_then_the_answer_is_405(client, db):
    response = client.generic("PROPFIND", "/api/docs")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
