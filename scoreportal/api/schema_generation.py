"""What drf-spectacular needs only when it generates the schema: a hook and an extension.

drf-spectacular imports this module by its dotted path in SPECTACULAR_SETTINGS
["PREPROCESSING_HOOKS"] when it generates a schema, which also registers the extension
class below; the request path never imports it (see docs/architecture.md, cold start).
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
