"""OpenAPI documentation of the score API, as drf-spectacular view extensions.

Not `@extend_schema` on the views: that decorator loads drf-spectacular's generator when the
view module is imported, on every cold start (docs/architecture.md). drf-spectacular loads
this module (through scoreportal.api.schema_generation) only when it generates a schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from scoreportal.api.schema import error_responses


class CpfFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.apis.CpfField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        return build_basic_type(OpenApiTypes.STR)


class ScoreQueryApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.apis.ScoreQueryApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class  # resolved to the class by drf-spectacular

        class ScoreQueryApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="score_query",
                request=view.InputSerializer,
                responses={
                    200: view.OutputSerializer,
                    **error_responses(
                        (400, "invalid_cpf, invalid_request"),
                        (401, "missing_api_key, invalid_api_key, api_key_expired, api_key_revoked"),
                        (403, "insufficient_scope"),
                        (404, "no_credit_data"),
                        (413, "payload_too_large"),
                        (503, "service_unavailable"),
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)  # type: ignore[no-any-return]

        return ScoreQueryApi


class HealthApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.apis.HealthApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class HealthApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="health",
                auth=[],
                responses={
                    200: inline_serializer(
                        "Health",
                        {
                            "status": serializers.ChoiceField(
                                choices=["ok", "degraded", "unavailable"]
                            ),
                            "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
                            "score_cache": serializers.ChoiceField(choices=["ok", "unavailable"]),
                        },
                    ),
                    503: OpenApiResponse(description="The database is unreachable."),
                },
            )
            def get(self, request: Request) -> Response:
                return super().get(request)  # type: ignore[no-any-return]

        return HealthApi
