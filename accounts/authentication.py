"""API key authentication for DRF: `Authorization: Api-Key <key>` or `X-Api-Key: <key>`."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.constants import API_KEY_PREFIX_LENGTH, LAST_USED_RESOLUTION_SECONDS
from accounts.models import ApiKey
from accounts.selectors import api_key_get_by_prefix
from scoreportal.api.errors import ApiError, ErrorCode

_SCHEME = "api-key"
# A well-formed key: "<prefix>.<secret>", both alphanumeric.
_KEY_SHAPE = re.compile(rf"([A-Za-z0-9]{{{API_KEY_PREFIX_LENGTH}}})\.[A-Za-z0-9]{{16,128}}")
# Verifying against this keeps an unknown prefix as slow as a wrong secret.
_DUMMY_HASH = ApiKey.objects.key_generator.hash("00000000.0000000000000000000000000000000000")


def presented_key(request: Request) -> str | None:
    """The key the client sent, from `Authorization: Api-Key …` or `X-Api-Key`, if any."""
    authorization = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == _SCHEME and credentials.strip():
        return credentials.strip()
    header = str(request.META.get("HTTP_X_API_KEY", "")).strip()
    return header or None


def presented_key_prefix(request: Request) -> str:
    """The prefix of a well-formed presented key: safe to record even when auth fails."""
    key = presented_key(request)
    match = _KEY_SHAPE.fullmatch(key) if key else None
    return match.group(1) if match else ""


def api_key_authenticate(key: str) -> ApiKey:
    """The usable ApiKey for a plaintext key, or ApiError with the precise 401 code.

    Revoked, expired and inactive-organization answers are given only once the secret
    has been verified, so they tell nothing to someone guessing keys.
    """
    match = _KEY_SHAPE.fullmatch(key)
    api_key = api_key_get_by_prefix(match.group(1)) if match else None
    if api_key is None:
        ApiKey.objects.key_generator.verify(key, _DUMMY_HASH)
        raise ApiError(ErrorCode.INVALID_API_KEY)
    if not api_key.is_valid(key):
        raise ApiError(ErrorCode.INVALID_API_KEY)
    if api_key.revoked:
        raise ApiError(ErrorCode.API_KEY_REVOKED)
    if api_key.has_expired:
        raise ApiError(ErrorCode.API_KEY_EXPIRED)
    if not api_key.organization.is_active:
        raise ApiError(ErrorCode.INVALID_API_KEY, "The API key's organization is not active.")
    _touch_last_used(api_key)
    return api_key


def _touch_last_used(api_key: ApiKey) -> None:
    """Record use at most once per LAST_USED_RESOLUTION_SECONDS: not a write per request."""
    now = timezone.now()
    threshold = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is None or api_key.last_used_at < threshold:
        api_key.last_used_at = now
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates with an organization's API key; `request.auth` is the ApiKey.

    There is no user: `request.user` is None and permissions look at the key.
    """

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        key = presented_key(request)
        if key is None:
            return None
        return None, api_key_authenticate(key)

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"
