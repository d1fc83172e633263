"""moto's AWS emulator as a WSGI application, for a keep-alive HTTP server.

`python -m moto.server` (Werkzeug's development server) closes the connection after every
response, so each call would pay a TCP handshake that DynamoDB does not cost: wrong for the
benchmark's latency and CPU figures. devstack serves this application with gunicorn's
threaded worker instead (one process: moto keeps its state in memory).

DynamoDB applies every write atomically: of two conditional updates of one item, the
second sees the first's result. moto applies a conditional update as read, check, write in
Python without a lock, so concurrent requests on gunicorn's threads can both pass the same
condition (the per-key rate-limit counters counted more than their limit under load). The
application is therefore served one request at a time; moto's work is pure Python under
the GIL, so this costs it little. The body is read before the lock is taken, so a slow
client does not hold up the others.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class OneRequestAtATime:
    """A WSGI wrapper that runs the wrapped application for one request at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        # gunicorn's reader ends at the request's end (Content-Length, chunked or none).
        environ["wsgi.input"] = io.BytesIO(stream.read(length) if length else stream.read())
        with self.lock:
            return list(self.app(environ, start_response))


application = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
