"""Request context: an id for every request, JSON errors and no caching off the admin, one
log line each."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from scoreportal.admin_url import is_admin_path
from scoreportal.api.context import RequestContext, attach_context
from scoreportal.api.errors import error_code_for_status, error_response

logger = logging.getLogger("scoreportal.request")


class RequestContextMiddleware:
    """Give each request an id and a clock, keep errors in the JSON envelope, log one line.

    It runs outermost, so it also sees Django's own 404 and 500 pages (DEBUG's technical
    pages included) and swaps them for the envelope before they reach an API client,
    keeping the headers the inner middleware set (the security headers among them).
    Every API answer says `Cache-Control: no-store`: a score is personal data, and no
    error or document of the API is worth a stale copy in a proxy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = attach_context(request)
        response = self.get_response(request)
        # The admin is an HTML application for staff, static files are static; everything
        # else is the API.
        api = not is_admin_path(request.path_info) and not request.path_info.startswith(
            settings.WHITENOISE_STATIC_PREFIX
        )
        if (
            response.status_code >= 400
            and not is_admin_path(request.path_info)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            response = _as_envelope(response, request)
        if api:
            response["Cache-Control"] = "no-store"
        response["X-Request-ID"] = context.request_id
        _log_request(request, response, context)
        return response


# Headers that describe the body being replaced, not the answer.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-language"})


def _as_envelope(original: HttpResponse, request: HttpRequest) -> HttpResponse:
    """The error envelope for a response some other layer made, with its other headers."""
    response = error_response(error_code_for_status(original.status_code), request=request)
    for name, value in original.items():
        if name.lower() not in _BODY_HEADERS:
            response.headers.setdefault(name, value)
    return response


def _log_request(request: HttpRequest, response: HttpResponse, context: RequestContext) -> None:
    match = request.resolver_match
    fields = {
        "request_id": context.request_id,
        "method": request.method,
        # The route, never the path: a client may put a CPF in a URL.
        "endpoint": match.route if match else None,
        "status": response.status_code,
        "latency_ms": context.elapsed_ms(),
        **context.log_fields,
    }
    level = logging.ERROR if response.status_code >= 500 else logging.INFO
    logger.log(level, "request", extra={"fields": fields})
