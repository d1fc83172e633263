"""Domain errors of the accounts app: why an API key is refused, why a request is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.rate_limits import Usage


class ApiKeyRefused(ApplicationError):
    """The key cannot be used; the subclass says why. `organization_id`: the key's
    organization, when its secret was verified (a revoked or expired key, an inactive
    organization): the audit trail records whose key it was."""

    code = ErrorCode.INVALID_API_KEY
    default_message = "The API key is not valid."

    def __init__(self, message: str | None = None, *, organization_id: int | None = None):
        super().__init__(message)
        self.organization_id = organization_id


class ApiKeyInvalid(ApiKeyRefused):
    """The key is unknown, malformed or its secret does not match."""

    code = ErrorCode.INVALID_API_KEY
    default_message = "The API key is not valid."


class ApiKeyExpired(ApiKeyRefused):
    code = ErrorCode.API_KEY_EXPIRED
    default_message = "The API key has expired."


class ApiKeyRevoked(ApiKeyRefused):
    code = ErrorCode.API_KEY_REVOKED
    default_message = "The API key has been revoked."


class OrganizationInactive(ApiKeyRefused):
    """The key is sound but its organization was deactivated."""

    code = ErrorCode.INVALID_API_KEY
    default_message = "The API key's organization is not active."


class LimitExceeded(ApplicationError):
    """A request did not fit in what its key has left; it was not counted.

    `usage` is the key's usage when it was refused; `resets_in_seconds` says when the limit
    that refused it has room again.
    """

    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests for this API key; retry later."

    def __init__(self, message: str | None = None, *, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage

    @property
    def resets_in_seconds(self) -> int:
        return self.usage.minute_reset_seconds if self.usage else 60

    def response_headers(self) -> dict[str, str]:
        # A refused request says when to come back (the RateLimit fields come from the view).
        return {"Retry-After": str(self.resets_in_seconds)}


class RateLimited(LimitExceeded):
    """The key's requests per minute are used up (across all instances)."""

    code = ErrorCode.RATE_LIMITED


class QuotaExceeded(LimitExceeded):
    """The key's daily quota is used up; it starts again at midnight in São Paulo."""

    code = ErrorCode.QUOTA_EXCEEDED
    default_message = "The daily quota of this API key is used up."

    @property
    def resets_in_seconds(self) -> int:
        return self.usage.day_reset_seconds if self.usage else 86400


class RequestExceedsLimits(ApplicationError):
    """A request larger than its key's limit per minute or per day: it could never pass."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "The request has more CPFs than this API key may score per minute or day."


class ExpiryNotInFuture(ApplicationError):
    """A key would be issued already expired, or its expiry moved into the past: it would
    look issued and answer api_key_expired. Ending a key now is what revocation is for."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "An API key's expiry must be in the future; to stop a key now, revoke it."


class KeyNotChangeable(ApplicationError):
    """A revoked key cannot be changed or rotated."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "A revoked API key cannot be changed or rotated."


class KeyAlreadyRotated(ApplicationError):
    """The key was rotated already: rotate its replacement instead."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This API key was already rotated; rotate its replacement instead."
