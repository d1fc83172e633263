"""OpenAPI documentation of the score API, as drf-spectacular view extensions.

Not `@extend_schema` on the views: that decorator loads drf-spectacular's generator when the
view module is imported, on every cold start (docs/architecture.md). drf-spectacular loads
this module (through scoreportal.api.schema_generation) only when it generates a schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from scoreportal.api.schema import error_responses, rate_limit_headers
from scores import apis

_KEY_ERRORS = "missing_api_key, invalid_api_key, api_key_expired, api_key_revoked"


def _component_name(serializer_class: type, name: str) -> None:
    """Name the schema component of a view's nested serializer (each view has its own
    InputSerializer and OutputSerializer; by class name they would all be Input, Output)."""

    class ComponentName(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
        target_class = serializer_class

        def get_name(self, auto_schema: Any, direction: Any) -> str:
            return name


for _serializer, _name in [
    (apis.ScoreQueryApi.InputSerializer, "ScoreRequest"),
    (apis.ScoreQueryApi.OutputSerializer, "Score"),
    (apis.ScoreBatchApi.InputSerializer, "ScoreBatchRequest"),
    (apis.ScoreBatchApi.OutputSerializer, "ScoreBatch"),
    (apis.ScoreBatchApi.OutputSerializer.ResultSerializer, "ScoreBatchResult"),
    (apis.UsageApi.OutputSerializer, "Usage"),
    (apis.UsageApi.OutputSerializer.KeySerializer, "UsageKey"),
    (apis.UsageApi.OutputSerializer.LimitSerializer, "UsageRateLimit"),
    (apis.UsageApi.OutputSerializer.DailyQuotaSerializer, "UsageDailyQuota"),
]:
    _component_name(_serializer, _name)


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
                description="The score of one CPF. Counts 1 against the key's limits.",
                request=view.InputSerializer,
                parameters=rate_limit_headers(200, 400, 403, 404, 413, 429, 503),
                responses={
                    200: view.OutputSerializer,
                    **error_responses(
                        (400, "invalid_cpf, invalid_request"),
                        (401, _KEY_ERRORS),
                        (403, "insufficient_scope, ip_not_allowed"),
                        (404, "no_credit_data"),
                        (413, "payload_too_large"),
                        (429, "rate_limited, quota_exceeded"),
                        (503, "service_unavailable"),
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)  # type: ignore[no-any-return]

        return ScoreQueryApi


class ScoreBatchApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.apis.ScoreBatchApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class ScoreBatchApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="score_batch",
                description=(
                    "The scores of up to 100 CPFs, one result per CPF in input order, each "
                    "with its status (ok, invalid_cpf, no_credit_data). A batch of N counts "
                    "N against the key's limits, whatever its items turn out to be; it is "
                    "refused whole (429) when the key has less room left."
                ),
                request=view.InputSerializer,
                parameters=rate_limit_headers(200, 400, 403, 413, 429, 503),
                responses={
                    200: view.OutputSerializer,
                    **error_responses(
                        (400, "invalid_request (the body, or more CPFs than the key's limits)"),
                        (401, _KEY_ERRORS),
                        (403, "insufficient_scope, ip_not_allowed"),
                        (413, "payload_too_large"),
                        (429, "rate_limited, quota_exceeded"),
                        (503, "service_unavailable"),
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)  # type: ignore[no-any-return]

        return ScoreBatchApi


class UsageApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.apis.UsageApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class UsageApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="usage",
                description=(
                    "The calling key's limits, what it used this minute and today (São Paulo "
                    "time), and when each resets. Any valid key; counts nothing."
                ),
                parameters=rate_limit_headers(200, 403),
                responses={
                    200: view.OutputSerializer,
                    **error_responses(
                        (401, _KEY_ERRORS), (403, "ip_not_allowed"), (503, "service_unavailable")
                    ),
                },
            )
            def get(self, request: Request) -> Response:
                return super().get(request)  # type: ignore[no-any-return]

        return UsageApi


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
