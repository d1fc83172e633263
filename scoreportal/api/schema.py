"""OpenAPI documentation helpers the views' documentation uses: the error envelope's schema,
its answers by status (with an example body per code), and the RateLimit header fields
(accounts.rate_limit_fields) of answers to a valid key.

Only drf-spectacular's light `utils` module is imported here: the views' documentation
(scores.api.openapi) is loaded only when a schema is generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from scoreportal.api.errors import ERROR_STATUS_AND_MESSAGE
from scoreportal.error_codes import ErrorCode

# The request id the documentation's examples show.
EXAMPLE_REQUEST_ID = "0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11"

ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.ChoiceField(
                    choices=ErrorCode.values, help_text="What went wrong; match on this."
                ),
                "message": serializers.CharField(
                    help_text="For people; may change. Never echoes a CPF."
                ),
                "request_id": serializers.UUIDField(
                    help_text="The answer's X-Request-ID; quote it when reporting a problem."
                ),
            },
        )
    },
)


def error_example(code: ErrorCode) -> dict[str, Any]:
    """The error envelope for `code`, with its default message, as the API sends it."""
    return {
        "error": {
            "code": code.value,
            "message": ERROR_STATUS_AND_MESSAGE[code][1],
            "request_id": EXAMPLE_REQUEST_ID,
        }
    }


def error_responses(
    *codes: ErrorCode, notes: Mapping[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """`{status: the error envelope}` for the statuses these codes are answered with; each
    response names its codes (and the note given for its status) and shows an example body
    per code. The status of each code comes from the one vocabulary (scoreportal.api.errors).
    """
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS_AND_MESSAGE[code][0], []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        description = ", ".join(code.value for code in status_codes)
        if notes and status in notes:
            description = f"{description}: {notes[status]}"
        responses[status] = OpenApiResponse(
            ErrorSerializer,
            description=description,
            examples=[
                OpenApiExample(code.value, value=error_example(code), response_only=True)
                for code in status_codes
            ],
        )
    return responses


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
