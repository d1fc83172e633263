"""OpenAPI documentation helpers the views use: the error envelope's schema.

Only drf-spectacular's light `utils` module is imported here (the views import this module);
what schema generation alone needs is in scoreportal.api.schema_generation.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
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
