"""The API's errors: each code's status and message, and the one envelope.

Every error any client sees is `{"error": {"code", "message", "request_id"}}`, built by
`error_response` below: from DRF views through `api_exception_handler`, and from everything
else (unknown URLs, Django-level failures) through `RequestContextMiddleware`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.request import Request

from scoreportal.api.context import request_id_of
from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError

logger = logging.getLogger(__name__)


# HTTP status and default message of each code. Messages never echo client input.
ERROR_STATUS_AND_MESSAGE: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.INVALID_CPF: (400, "The CPF is not valid."),
    ErrorCode.INVALID_REQUEST: (400, "The request is not valid."),
    ErrorCode.MISSING_API_KEY: (
        401,
        "No API key was sent. Send it as 'Authorization: Api-Key <key>' or 'X-Api-Key: <key>'.",
    ),
    ErrorCode.INVALID_API_KEY: (401, "The API key is not valid."),
    ErrorCode.API_KEY_EXPIRED: (401, "The API key has expired."),
    ErrorCode.API_KEY_REVOKED: (401, "The API key has been revoked."),
    ErrorCode.INSUFFICIENT_SCOPE: (403, "The API key does not have the scope this call needs."),
    ErrorCode.IP_NOT_ALLOWED: (403, "Requests from this IP address are not allowed for this key."),
    ErrorCode.NO_CREDIT_DATA: (404, "There is no credit data for this CPF."),
    ErrorCode.SCORE_SUSPENDED: (404, "No score is available for this CPF."),
    ErrorCode.NOT_FOUND: (404, "The requested resource does not exist."),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "This method is not allowed on this resource."),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "The request body is too large."),
    ErrorCode.RATE_LIMITED: (429, "Too many requests for this API key; retry later."),
    ErrorCode.QUOTA_EXCEEDED: (429, "The daily quota of this API key is used up."),
    ErrorCode.SERVICE_UNAVAILABLE: (503, "The service is temporarily unavailable."),
    ErrorCode.INTERNAL_ERROR: (500, "An unexpected error occurred."),
}

# The code reported for a bare HTTP status (errors raised outside our views).
_CODE_FOR_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.MISSING_API_KEY,
    403: ErrorCode.INSUFFICIENT_SCOPE,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

# DRF's own exceptions, translated to our codes.
_CODE_FOR_DRF_EXCEPTION: tuple[tuple[type[exceptions.APIException], ErrorCode], ...] = (
    (exceptions.ParseError, ErrorCode.INVALID_REQUEST),
    (exceptions.UnsupportedMediaType, ErrorCode.INVALID_REQUEST),
    (exceptions.NotAcceptable, ErrorCode.INVALID_REQUEST),
    (exceptions.NotAuthenticated, ErrorCode.MISSING_API_KEY),
    (exceptions.AuthenticationFailed, ErrorCode.INVALID_API_KEY),
    (exceptions.PermissionDenied, ErrorCode.INSUFFICIENT_SCOPE),
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.Throttled, ErrorCode.RATE_LIMITED),
)

_UNSUPPORTED_MEDIA_TYPE_MESSAGE = "Send the body as JSON with 'Content-Type: application/json'."


class ApiError(exceptions.APIException):
    """An error with a code from `ErrorCode`, raised by the API layer (views, parsers,
    authentication and permission classes); services raise ApplicationError instead."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        status, default_message = ERROR_STATUS_AND_MESSAGE[code]
        self.code = code
        self.status_code = status
        self.message = message or default_message
        self.headers = headers or {}
        super().__init__(detail=self.message, code=code.value)


def error_response(
    code: ErrorCode,
    *,
    request: HttpRequest | Request | None,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """The error envelope: the only way an error body is built."""
    status, default_message = ERROR_STATUS_AND_MESSAGE[code]
    response = JsonResponse(
        {
            "error": {
                "code": code.value,
                "message": message or default_message,
                "request_id": request_id_of(request),
            }
        },
        status=status,
        headers=headers,
        json_dumps_params={"separators": (",", ":")},
    )
    if status == 401:
        response["WWW-Authenticate"] = "Api-Key"
    return response


def error_code_for_status(status: int) -> ErrorCode:
    """The code for an error response some other layer produced with only a status."""
    if status in _CODE_FOR_STATUS:
        return _CODE_FOR_STATUS[status]
    return ErrorCode.INVALID_REQUEST if status < 500 else ErrorCode.INTERNAL_ERROR


def as_api_error(exc: Exception) -> ApiError:
    """Translate any exception raised while serving an API request into an ApiError."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ApplicationError):
        # Each domain error declares its code (and headers, such as a limit's Retry-After).
        return ApiError(exc.code, exc.message, headers=exc.response_headers())
    if isinstance(exc, Http404):
        return ApiError(ErrorCode.NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return ApiError(ErrorCode.INSUFFICIENT_SCOPE)
    if isinstance(exc, exceptions.ValidationError):
        return _validation_error(exc)
    for exc_class, code in _CODE_FOR_DRF_EXCEPTION:
        if isinstance(exc, exc_class):
            message = None
            if isinstance(exc, exceptions.UnsupportedMediaType):
                message = _UNSUPPORTED_MEDIA_TYPE_MESSAGE
            headers = {}
            wait = getattr(exc, "wait", None)  # Throttled's seconds to wait
            if wait is not None:
                headers["Retry-After"] = str(int(wait) + 1)
            return ApiError(code, message, headers=headers)
    if isinstance(exc, DatabaseError):
        logger.exception("database error while serving an API request")
        return ApiError(ErrorCode.SERVICE_UNAVAILABLE)
    logger.exception("unhandled error while serving an API request")
    return ApiError(ErrorCode.INTERNAL_ERROR)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse:
    """DRF's EXCEPTION_HANDLER: every exception becomes the error envelope, never HTML."""
    error = as_api_error(exc)
    return error_response(
        error.code, request=context.get("request"), message=error.message, headers=error.headers
    )


def _validation_error(exc: exceptions.ValidationError) -> ApiError:
    """A serializer's errors as one message; a bad CPF gets its own code."""
    problems = _flatten(exc.detail)
    for field, detail in problems:
        if detail.code == ErrorCode.INVALID_CPF:
            return ApiError(ErrorCode.INVALID_CPF, f"{field}: {detail}" if field else str(detail))
    message = "; ".join(
        f"{field}: {detail}" if field else str(detail) for field, detail in problems
    )
    return ApiError(ErrorCode.INVALID_REQUEST, message or None)


def _flatten(detail: Any, field: str = "") -> list[tuple[str, exceptions.ErrorDetail]]:
    if isinstance(detail, dict):
        return [
            problem
            for key, value in detail.items()
            for problem in _flatten(value, key if key != "non_field_errors" else field)
        ]
    if isinstance(detail, list):
        return [problem for item in detail for problem in _flatten(item, field)]
    return [(field, detail)]
