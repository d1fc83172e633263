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
    assert {"200", "400", "401", "403", "404", "413", "503"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "X-Api-Key"


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
