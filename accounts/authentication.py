"""API key authentication for DRF: `Authorization: Api-Key <key>` or `X-Api-Key: <key>`."""

from __future__ import annotations

from django.db import DatabaseError
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.constants import API_KEY_SHAPE
from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from scoreportal.api.errors import ApiError, as_api_error
from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError

_SCHEME = "api-key"
# A partner's first call often sends the key the way other APIs take theirs (Bearer, Token,
# the key alone): say which scheme this one takes instead of only that no key came.
WRONG_SCHEME_MESSAGE = (
    "No API key was sent: the Authorization header's scheme must be 'Api-Key'. Send the key"
    " as 'Authorization: Api-Key <key>' or 'X-Api-Key: <key>'."
)


def presented_keys(request: Request) -> list[str]:
    """The keys the client sent: `Authorization: Api-Key …` first, then `X-Api-Key`."""
    keys = []
    authorization = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == _SCHEME and credentials.strip():
        keys.append(credentials.strip())
    header = str(request.META.get("HTTP_X_API_KEY", "")).strip()
    if header:
        keys.append(header)
    return keys


def presented_key(request: Request) -> str | None:
    """The key the client sent, from `Authorization: Api-Key …` or `X-Api-Key`, if any."""
    keys = presented_keys(request)
    return keys[0] if keys else None


def presented_key_prefix(request: Request) -> str:
    """The prefix of a well-formed presented key: safe to record even when auth fails."""
    key = presented_key(request)
    match = API_KEY_SHAPE.fullmatch(key) if key else None
    return match.group(1) if match else ""


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates with an organization's API key; `request.auth` is the ApiKey.

    There is no user: `request.user` is None and permissions look at the key.
    """

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        keys = presented_keys(request)
        if len(set(keys)) > 1:
            # Which one did the client mean? Refuse rather than pick one silently.
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                "Two different API keys were sent; send one, in one header.",
            )
        key = keys[0] if keys else None
        if key is None:
            if str(request.META.get("HTTP_AUTHORIZATION", "")).strip():
                raise ApiError(ErrorCode.MISSING_API_KEY, WRONG_SCHEME_MESSAGE)
            return None
        try:
            return None, api_key_authenticate(key)
        except (ApplicationError, DatabaseError) as exc:
            # DRF records a failed authentication only for its own exception type; any other
            # leaves it unrecorded, and the next read of request.auth (the audit's) would
            # query the unreachable database again and escape as a 500. A database error
            # becomes the 503 it is everywhere else.
            raise as_api_error(exc) from exc

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"
