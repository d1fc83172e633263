"""WhiteNoise, indexing the static files on the first request for one (docs/architecture.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class LazyWhiteNoiseMiddleware(WhiteNoiseMiddleware):  # type: ignore[misc]
    """WhiteNoiseMiddleware whose `add_files` calls made at start-up run on first use.

    WhiteNoise builds the response headers of every file under STATIC_ROOT when the
    middleware is created: on Lambda, part of every cold start, though API requests never
    ask for a static file. The same calls run, in the same order, on the first request
    under the static prefix instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase], **kwargs: Any):
        self._deferred: list[tuple[Any, str | None]] | None = []
        self._index_lock = threading.Lock()
        super().__init__(get_response, **kwargs)

    def add_files(self, root: Any, prefix: str | None = None) -> None:
        if self._deferred is not None:
            self._deferred.append((root, prefix))
        else:
            super().add_files(root, prefix)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self._deferred is not None and request.path_info.startswith(self.static_prefix):
            with self._index_lock:
                for root, prefix in self._deferred or ():
                    super().add_files(root, prefix)
                self._deferred = None  # only now: other threads wait on the lock until here
        response: HttpResponseBase = super().__call__(request)
        return response
