"""Domain errors of the accounts app: why an API key is refused, why a change is refused."""

from __future__ import annotations

from scoreportal.exceptions import ApplicationError


class ApiKeyInvalid(ApplicationError):
    """The key is unknown, malformed or its secret does not match."""

    default_message = "The API key is not valid."


class ApiKeyExpired(ApplicationError):
    default_message = "The API key has expired."


class ApiKeyRevoked(ApplicationError):
    default_message = "The API key has been revoked."


class OrganizationInactive(ApplicationError):
    """The key is sound but its organization was deactivated."""

    default_message = "The API key's organization is not active."
