"""What the platform knows about the request being served, attached by the middleware."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from django.http import HttpRequest
from rest_framework.request import Request


@dataclass(slots=True)
class RequestContext:
    """Per-request facts shared by the middleware, the views and the error envelope.

    Views add what they learn (organization, key prefix, outcome, cache source) to
    `log_fields`; the middleware writes them into the request's one log line.
    """

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: float = field(default_factory=time.perf_counter)
    log_fields: dict[str, object] = field(default_factory=dict)

    def elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started_at) * 1000)


def attach_context(request: HttpRequest) -> RequestContext:
    context = RequestContext()
    request.scoreportal = context  # type: ignore[attr-defined]
    return context


def context_of(request: HttpRequest | Request | None) -> RequestContext | None:
    """The context RequestContextMiddleware attached (None outside a request)."""
    return getattr(request, "scoreportal", None)


def request_id_of(request: HttpRequest | Request | None) -> str:
    context = context_of(request)
    return context.request_id if context else ""
