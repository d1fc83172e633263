"""DRF permission: a valid API key holding every scope the view requires."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey
from scoreportal.api.errors import ApiError, ErrorCode


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
