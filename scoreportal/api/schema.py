"""OpenAPI documentation helpers the views use: the error envelope's schema, and the
RateLimit header fields (scoreportal.api.rate_limit_fields) of answers to a valid key.

Only drf-spectacular's light `utils` module is imported here (the views import this module);
what schema generation alone needs is in scoreportal.api.schema_generation.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from scoreportal.api.errors import ErrorCode

ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.ChoiceField(choices=ErrorCode.values),
                "message": serializers.CharField(),
                "request_id": serializers.CharField(),
            },
        )
    },
)


def error_responses(*statuses: tuple[int, str]) -> dict[int, OpenApiResponse]:
    """`{status: the error envelope}` for each (status, "the codes it carries") given."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=codes) for status, codes in statuses
    }


def rate_limit_headers(*statuses: int) -> list[OpenApiParameter]:
    """The RateLimit fields on the answers of these statuses, and Retry-After on a 429."""
    fields = [
        ("RateLimit-Limit", int, "The limit closest to exhaustion: CPFs per minute or per day."),
        ("RateLimit-Remaining", int, "CPFs that limit has left."),
        ("RateLimit-Reset", int, "Seconds until that limit's window starts again."),
        ("RateLimit-Policy", str, "Both limits, e.g. `600;w=60, 50000;w=86400`."),
    ]
    headers = [
        OpenApiParameter(
            name,
            kind,
            OpenApiParameter.HEADER,
            description=description,
            response=list(statuses),
        )
        for name, kind, description in fields
    ]
    if 429 in statuses:
        headers.append(
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                description="Seconds until the limit that refused the request has room again.",
                response=[429],
            )
        )
    return headers
