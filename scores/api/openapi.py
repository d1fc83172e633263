"""OpenAPI documentation of the score API, as drf-spectacular extensions and a hook.

Not `@extend_schema` on the views: that decorator loads drf-spectacular's generator when the
view module is imported, on every cold start (docs/architecture.md). drf-spectacular imports
this module only when it generates a schema, by the hook's dotted path in
SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"], which registers the extensions below.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from scoreportal.api.schema import EXAMPLE_REQUEST_ID, error_responses, rate_limit_headers
from scoreportal.api.serializers import StrictInputSerializer
from scoreportal.error_codes import ErrorCode
from scores.api import views as apis
from scores.constants import BatchItemStatus
from scores.core.cpf import INPUT_PATTERN, MASKED_PATTERN

_KEY_ERRORS = (
    ErrorCode.MISSING_API_KEY,
    ErrorCode.INVALID_API_KEY,
    ErrorCode.API_KEY_EXPIRED,
    ErrorCode.API_KEY_REVOKED,
)
_LIMIT_ERRORS = (ErrorCode.RATE_LIMITED, ErrorCode.QUOTA_EXCEEDED)

# The documentation's examples: the published CPFs (valid, with and without credit data).
_SCORE_EXAMPLE: dict[str, Any] = {
    "cpf": "***.982.247-**",
    "score": 975,
    "band": "excellent",
    "probability_of_default": 0.0005,
    "reasons": [
        {"code": "R07", "description": "Many credit applications in the last 90 days"},
        {"code": "R08", "description": "Short credit history"},
    ],
    "model_version": "2026.1",
    "computed_at": "2026-11-22T10:00:00.123456Z",
    "source": "cache",
    "under_dispute": False,
}
_INVALID_CPF_ITEM_MESSAGE = (
    "CPF must be 11 digits, bare (00000000000) or formatted (000.000.000-00)."
)


def _component_name(serializer_class: type, name: str) -> None:
    """Name the schema component of a view's nested serializer (each view has its own
    InputSerializer and OutputSerializer; by class name they would all be Input, Output).
    An input that refuses unknown fields says so (additionalProperties: false)."""

    class ComponentName(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
        target_class = serializer_class

        def get_name(self, auto_schema: Any, direction: Any) -> str:
            return name

        def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
            schema = super().map_serializer(auto_schema, direction)
            if issubclass(serializer_class, StrictInputSerializer):
                schema["additionalProperties"] = False
            return schema


for _serializer, _name in [
    (apis.ScoreQueryApi.InputSerializer, "ScoreRequest"),
    (apis.ScoreQueryApi.OutputSerializer, "Score"),
    (apis.ScoreBatchApi.InputSerializer, "ScoreBatchRequest"),
    (apis.ScoreBatchApi.OutputSerializer, "ScoreBatch"),
    (apis.UsageApi.OutputSerializer, "Usage"),
    (apis.UsageApi.OutputSerializer.KeySerializer, "UsageKey"),
    (apis.UsageApi.OutputSerializer.LimitSerializer, "UsageRateLimit"),
    (apis.UsageApi.OutputSerializer.DailyQuotaSerializer, "UsageDailyQuota"),
]:
    _component_name(_serializer, _name)


class CpfFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """A CPF as a client sends it (either form; `format: cpf` for tools that generate
    valid ones), and as the API answers it (masked)."""

    target_class = "scores.api.views.CpfField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        if direction == "request":
            return {
                "type": "string",
                "format": "cpf",
                "pattern": INPUT_PATTERN,
                "example": "529.982.247-25",
            }
        return {"type": "string", "pattern": MASKED_PATTERN, "example": "***.982.247-**"}


class ScoreBatchResultSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A batch item is one of four shapes, told apart by `status` (oneOf, discriminated):
    the score's fields (ok), the masked CPF (no_credit_data, score_suspended) or a message
    (invalid_cpf)."""

    target_class = apis.ScoreBatchApi.OutputSerializer.ResultSerializer

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        return "ScoreBatchResult"

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        fields = super().map_serializer(auto_schema, direction)["properties"]
        score_fields = list(apis.ScoreSerializer().fields)
        shapes = {
            BatchItemStatus.OK: ("ScoreBatchResultOk", score_fields),
            BatchItemStatus.INVALID_CPF: ("ScoreBatchResultInvalidCpf", ["message"]),
            BatchItemStatus.NO_CREDIT_DATA: ("ScoreBatchResultNoCreditData", ["cpf"]),
            BatchItemStatus.SCORE_SUSPENDED: ("ScoreBatchResultScoreSuspended", ["cpf"]),
        }
        mapping = {}
        for status, (name, names) in shapes.items():
            component = ResolvedComponent(  # type: ignore[no-untyped-call]
                name=name,
                type=ResolvedComponent.SCHEMA,
                object=name,
                schema={
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": [status.value]},
                        **{field: fields[field] for field in names},
                    },
                    "required": ["status", *names],
                },
            )
            auto_schema.registry.register_on_missing(component)
            mapping[status.value] = component.ref["$ref"]
        return {
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "status", "mapping": mapping},
        }


class ScoreQueryApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.api.views.ScoreQueryApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class ScoreQueryApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="score_query",
                description="The score of one CPF. Counts 1 against the key's limits.",
                request=view.InputSerializer,
                parameters=rate_limit_headers(200, 400, 403, 404, 413, 429, 503),
                examples=[
                    OpenApiExample("formatted", value={"cpf": "529.982.247-25"}, request_only=True),
                    OpenApiExample(
                        "bare, with a purpose",
                        value={"cpf": "52998224725", "purpose": "credit_review"},
                        request_only=True,
                    ),
                    OpenApiExample(
                        "no credit data",
                        value={"cpf": "390.533.447-05", "purpose": "fraud_prevention"},
                        request_only=True,
                    ),
                ],
                responses={
                    200: OpenApiResponse(
                        view.OutputSerializer,
                        description="The score.",
                        examples=[
                            OpenApiExample(
                                "score",
                                value={**_SCORE_EXAMPLE, "request_id": EXAMPLE_REQUEST_ID},
                            )
                        ],
                    ),
                    **error_responses(
                        ErrorCode.INVALID_CPF,
                        ErrorCode.INVALID_REQUEST,
                        *_KEY_ERRORS,
                        ErrorCode.INSUFFICIENT_SCOPE,
                        ErrorCode.IP_NOT_ALLOWED,
                        ErrorCode.NO_CREDIT_DATA,
                        ErrorCode.SCORE_SUSPENDED,
                        ErrorCode.PAYLOAD_TOO_LARGE,
                        *_LIMIT_ERRORS,
                        ErrorCode.SERVICE_UNAVAILABLE,
                        notes={
                            404: "no credit data for this CPF, or its score suspended at the "
                            "request of the person scored (Lei 12.414): no score is shown"
                        },
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)  # type: ignore[no-any-return]

        return ScoreQueryApi


class ScoreBatchApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.api.views.ScoreBatchApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class ScoreBatchApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="score_batch",
                description=(
                    "The scores of up to 100 CPFs, one result per CPF in input order, each "
                    "with its status (ok, invalid_cpf, no_credit_data, score_suspended). A "
                    "batch of N counts "
                    "N against the key's limits, whatever its items turn out to be; it is "
                    "refused whole (429) when the key has less room left."
                ),
                request=view.InputSerializer,
                parameters=rate_limit_headers(200, 400, 403, 413, 429, 503),
                examples=[
                    OpenApiExample(
                        "every kind of item",
                        value={
                            "cpfs": ["529.982.247-25", "123", "390.533.447-05", "52998224725"],
                            "purpose": "credit_review",
                        },
                        request_only=True,
                    ),
                    OpenApiExample(
                        "two published CPFs",
                        value={"cpfs": ["529.982.247-25", "111.444.777-35"]},
                        request_only=True,
                    ),
                ],
                responses={
                    200: OpenApiResponse(
                        view.OutputSerializer,
                        description="One result per CPF sent, in the same order.",
                        examples=[
                            OpenApiExample(
                                "every kind of item",
                                value={
                                    "results": [
                                        {"status": "ok", **_SCORE_EXAMPLE},
                                        {
                                            "status": "invalid_cpf",
                                            "message": _INVALID_CPF_ITEM_MESSAGE,
                                        },
                                        {"status": "no_credit_data", "cpf": "***.533.447-**"},
                                        {"status": "ok", **_SCORE_EXAMPLE},
                                    ],
                                    "request_id": EXAMPLE_REQUEST_ID,
                                },
                            )
                        ],
                    ),
                    **error_responses(
                        ErrorCode.INVALID_REQUEST,
                        *_KEY_ERRORS,
                        ErrorCode.INSUFFICIENT_SCOPE,
                        ErrorCode.IP_NOT_ALLOWED,
                        ErrorCode.PAYLOAD_TOO_LARGE,
                        *_LIMIT_ERRORS,
                        ErrorCode.SERVICE_UNAVAILABLE,
                        notes={400: "the body, or more CPFs than the key's limits allow"},
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)  # type: ignore[no-any-return]

        return ScoreBatchApi


class UsageApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.api.views.UsageApi"

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
                    200: OpenApiResponse(
                        view.OutputSerializer,
                        description="The key's limits and their use.",
                        examples=[
                            OpenApiExample(
                                "usage",
                                value={
                                    "key": {
                                        "prefix": "Abcd1234",
                                        "name": "core banking",
                                        "organization": "banco-exemplo",
                                        "scopes": ["scores:read", "scores:batch"],
                                    },
                                    "rate_limit": {
                                        "limit": 600,
                                        "used": 3,
                                        "remaining": 597,
                                        "resets_at": "2026-11-23T15:01:00Z",
                                        "resets_in_seconds": 42,
                                    },
                                    "daily_quota": {
                                        "limit": 50000,
                                        "used": 340,
                                        "remaining": 49660,
                                        "resets_at": "2026-11-24T03:00:00Z",
                                        "resets_in_seconds": 43182,
                                        "day": "2026-11-23",
                                    },
                                    "counted": "across_instances",
                                    "request_id": EXAMPLE_REQUEST_ID,
                                },
                            )
                        ],
                    ),
                    **error_responses(
                        ErrorCode.INVALID_REQUEST,
                        *_KEY_ERRORS,
                        ErrorCode.IP_NOT_ALLOWED,
                        ErrorCode.SERVICE_UNAVAILABLE,
                        notes={400: "two different keys were sent (Authorization, X-Api-Key)"},
                    ),
                },
            )
            def get(self, request: Request) -> Response:
                return super().get(request)  # type: ignore[no-any-return]

        return UsageApi


_HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "score_cache": serializers.ChoiceField(choices=["ok", "unavailable"]),
    },
)


class HealthApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "scores.api.views.HealthApi"

    def view_replacement(self) -> Any:
        view: Any = self.target_class

        class HealthApi(view):  # type: ignore[misc]
            @extend_schema(
                operation_id="health",
                auth=[],
                responses={
                    200: OpenApiResponse(
                        _HEALTH,
                        description="The database answers (the score cache may not).",
                        examples=[
                            OpenApiExample(
                                "ok",
                                value={"status": "ok", "database": "ok", "score_cache": "ok"},
                            ),
                            OpenApiExample(
                                "degraded: scores are computed, not cached",
                                value={
                                    "status": "degraded",
                                    "database": "ok",
                                    "score_cache": "unavailable",
                                },
                            ),
                        ],
                    ),
                    503: OpenApiResponse(
                        _HEALTH,
                        description="The database is unreachable.",
                        examples=[
                            OpenApiExample(
                                "unavailable",
                                value={
                                    "status": "unavailable",
                                    "database": "unavailable",
                                    "score_cache": "ok",
                                },
                            )
                        ],
                    ),
                },
            )
            def get(self, request: Request) -> Response:
                return super().get(request)  # type: ignore[no-any-return]

        return HealthApi


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
