"""OpenAPI generation (drf-spectacular): hooks and extensions.

This module is imported only when a schema is generated (it is named in
SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"], which drf-spectacular loads before it inspects
any view), so drf-spectacular's heavy generator modules stay out of every cold start. For
the same reason the views' own documentation lives in <app>/openapi.py, imported here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

# Each app's view documentation registers itself on import.
import scores.openapi  # noqa: F401


def document_paths_without_trailing_slash(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> Any:
    """Our routes accept an optional trailing slash; document the canonical form without it."""
    return [(path.rstrip("/") or "/", *rest) for path, *rest in endpoints]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How accounts.authentication.ApiKeyAuthentication appears in the schema."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "Or 'Authorization: Api-Key <key>'.",
        }
