"""Static files for the admin, served by whitenoise, indexed on first use.

WhiteNoiseMiddleware stats every file under STATIC_ROOT when it starts (about 90 ms for the
admin's and Swagger UI's files). On Lambda that would be part of every cold start, although
API requests never touch a static file. This subclass defers the index to the first request
under the static prefix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class _WithoutStaticRoot:
    """Django's settings, minus STATIC_ROOT (so the parent's __init__ indexes nothing)."""

    def __init__(self, settings: Any) -> None:
        self._settings = settings

    def __getattr__(self, name: str) -> Any:
        if name == "STATIC_ROOT":
            return None
        return getattr(self._settings, name)


class LazyWhiteNoiseMiddleware(WhiteNoiseMiddleware):  # type: ignore[misc]
    """WhiteNoiseMiddleware that indexes STATIC_ROOT on the first static request."""

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase],
        settings: Any = django_settings,
    ) -> None:
        super().__init__(get_response, settings=_WithoutStaticRoot(settings))
        self.static_root = settings.STATIC_ROOT
        self._indexed = not self.static_root
        self._index_lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not self._indexed and request.path_info.startswith(self.static_prefix):
            with self._index_lock:
                if not self._indexed:
                    self.add_files(self.static_root, prefix=self.static_prefix)
                    self._indexed = True
        response: HttpResponseBase = super().__call__(request)
        return response
