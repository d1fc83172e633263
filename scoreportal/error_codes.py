"""The error vocabulary: the codes clients match on, and the audit trail's outcomes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ErrorCode(models.TextChoices):
    """Machine-readable error codes; the value is what clients match on. The labels are
    for staff (the audit trail's outcome column); API messages are in English, in
    scoreportal.api.errors."""

    INVALID_CPF = "invalid_cpf", _("Invalid CPF")
    INVALID_REQUEST = "invalid_request", _("Invalid request")
    MISSING_API_KEY = "missing_api_key", _("Missing API key")
    INVALID_API_KEY = "invalid_api_key", _("Invalid API key")
    API_KEY_EXPIRED = "api_key_expired", _("API key expired")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
    INSUFFICIENT_SCOPE = "insufficient_scope", _("Insufficient scope")
    IP_NOT_ALLOWED = "ip_not_allowed", _("IP address not allowed")
    NO_CREDIT_DATA = "no_credit_data", _("No credit data")
    SCORE_SUSPENDED = "score_suspended", _("Score suspended at the consumer's request")
    NOT_FOUND = "not_found", _("Not found")
    METHOD_NOT_ALLOWED = "method_not_allowed", _("Method not allowed")
    PAYLOAD_TOO_LARGE = "payload_too_large", _("Payload too large")
    RATE_LIMITED = "rate_limited", _("Rate limited")
    QUOTA_EXCEEDED = "quota_exceeded", _("Quota exceeded")
    SERVICE_UNAVAILABLE = "service_unavailable", _("Service unavailable")
    INTERNAL_ERROR = "internal_error", _("Internal error")
