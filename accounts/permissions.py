"""DRF permissions: a valid API key, used from an address it allows, holding every scope
the view requires."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey
from scoreportal.api.errors import ApiError
from scoreportal.client_ip import client_ip
from scoreportal.error_codes import ErrorCode


class FromAllowedNetwork(BasePermission):
    """Allow a key only from the networks it lists (none listed: any address).

    The address is the one no client can forge (scoreportal.client_ip). Refused: 403
    ip_not_allowed. Without a key it answers False (401 missing_api_key).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        if not api_key.allows_address(client_ip(request)):
            raise ApiError(ErrorCode.IP_NOT_ALLOWED)
        return True


class HasRequiredScopes(BasePermission):
    """Allow a request authenticated by an ApiKey that has all of `view.required_scopes`.

    Without a key it answers False, which DRF turns into NotAuthenticated (401
    missing_api_key); a key lacking a scope gets 403 insufficient_scope.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        missing = [
            scope for scope in getattr(view, "required_scopes", ()) if not api_key.has_scope(scope)
        ]
        if missing:
            raise ApiError(
                ErrorCode.INSUFFICIENT_SCOPE,
                f"This call needs the scope(s): {', '.join(missing)}.",
            )
        return True
