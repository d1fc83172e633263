"""Misbehaving network peers on loopback, for fault-injection tests.

Real sockets and real HTTP, so the application's real client (boto3, urllib3) meets them
exactly as it would meet a broken dependency: an endpoint that accepts connections and
never answers, one that answers garbage, one that answers a few requests and then goes
silent. Each counts the requests it received.

`http_proxy` stands in front of a real endpoint (the moto server) and passes its answers on,
each after a delay, or answers garbage instead; both can be changed while it serves, so a
server process pointed at it meets a DynamoDB that turns slow or broken and then recovers.
Its `older_store` setting makes the endpoint answer as dynalite (and DynamoDB Local before
December 2023) do: a refused condition without the stored item, and no `x-amz-crc32`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# What the endpoint does with the n-th request it receives (0-based): the bytes of a whole
# HTTP response to send, or None to say nothing and keep the connection open.
Behaviour = Callable[[int], bytes | None]


def http_response(
    status: int, body: bytes, content_type: str = "text/plain", headers: str = ""
) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n{headers}\r\n"
    )
    return head.encode() + body


def dynamodb_response(body: bytes) -> bytes:
    """A 200 as DynamoDB sends it: JSON with the CRC32 of the body in `x-amz-crc32`, and a
    request id."""
    return http_response(
        200,
        body,
        "application/x-amz-json-1.0",
        f"x-amz-crc32: {zlib.crc32(body)}\r\nx-amzn-RequestId: {uuid.uuid4().hex.upper()}\r\n",
    )


def silent(n: int) -> bytes | None:
    """Accept, read, never answer."""
    return None


def garbage(n: int) -> bytes | None:
    """A 200 whose body is not what any AWS protocol would send."""
    return http_response(200, b"\xff\xfe<html>not json", "application/x-amz-json-1.0")


def answers_then_silent(answers: int, body: bytes = b"{}") -> Behaviour:
    """A DynamoDB answer (by default, no item) to the first `answers` requests, then silence."""

    def behaviour(n: int) -> bytes | None:
        return dynamodb_response(body) if n < answers else None

    return behaviour


@dataclass
class FaultyEndpoint:
    url: str
    requests: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def faulty_endpoint(behaviour: Behaviour) -> Iterator[FaultyEndpoint]:
    """Serve `behaviour` on a free loopback port until the block ends."""
    stop = threading.Event()
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(0.1)
            buffer = b""
            while not stop.is_set():
                request, buffer = _read_request(conn, buffer, stop)
                if request is None:
                    return
                with lock:
                    n = len(endpoint.requests)
                    endpoint.requests.append(request)
                answer = behaviour(n)
                if answer is None:
                    stop.wait()  # hold the connection open, silently
                    return
                conn.sendall(answer)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint = FaultyEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield endpoint
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Proxy:
    """A proxy's settings, changed by the test while it serves, and what it has seen.

    `delay`: seconds to hold each answer of the endpoint before passing it on (the request
    reaches the endpoint at once: a slow DynamoDB that applied a write still answers late).
    `garbage`: answer every request with `garbage` instead of forwarding it.
    `older_store`: pass answers on as an older DynamoDB-compatible store gives them
    (`as_older_store`).
    """

    url: str
    delay: float = 0.0
    garbage: bool = False
    older_store: bool = False
    requests: int = 0
    # The operation of each request received (its X-Amz-Target: "UpdateItem", …).
    operations: list[str] = field(default_factory=list)


@contextlib.contextmanager
def http_proxy(upstream: str) -> Iterator[Proxy]:
    """Serve a proxy to the HTTP endpoint `upstream` (http://host:port) on a free loopback
    port until the block ends: one connection to the endpoint per client connection, one
    request at a time, as keep-alive HTTP/1.1 clients (botocore) use them."""
    host, _, port = upstream.removeprefix("http://").partition(":")
    stop = threading.Event()
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(0.1)
            buffer = b""
            with contextlib.ExitStack() as stack:
                endpoint: socket.socket | None = None
                while not stop.is_set():
                    request, buffer = _read_request(conn, buffer, stop)
                    if request is None:
                        return
                    with lock:
                        n = proxy.requests
                        proxy.requests += 1
                        proxy.operations.append(_operation(request))
                    if proxy.garbage:
                        answer = garbage(n)
                    else:
                        try:
                            if endpoint is None:
                                endpoint = stack.enter_context(
                                    socket.create_connection((host, int(port)), timeout=5)
                                )
                                endpoint.settimeout(0.1)
                            endpoint.sendall(request)
                            answer, _ = _read_request(endpoint, b"", stop)
                        except OSError:
                            answer = None
                        if stop.wait(proxy.delay):
                            return
                        if answer is not None and proxy.older_store:
                            answer = as_older_store(answer)
                    if answer is None:  # the endpoint went away: so does this connection
                        return
                    try:
                        conn.sendall(answer)
                    except OSError:  # the client gave up waiting
                        return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy = Proxy(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


def as_older_store(answer: bytes) -> bytes:
    """The endpoint's answer as dynalite gives it: no `x-amz-crc32` header, and a refused
    condition (ConditionalCheckFailedException) without the stored item, whatever
    ReturnValuesOnConditionCheckFailure asked."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = [
        line
        for line in head.split(b"\r\n")
        if not line.lower().startswith((b"x-amz-crc32:", b"content-length:"))
    ]
    if b"ConditionalCheckFailedException" in body:
        error = json.loads(body)
        error.pop("Item", None)
        body = json.dumps(error).encode()
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _operation(request: bytes) -> str:
    head = request.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-amz-target":
            return value.strip().decode("ascii", "replace").rpartition(".")[2]
    return ""


def _read_request(
    conn: socket.socket, buffer: bytes, stop: threading.Event
) -> tuple[bytes | None, bytes]:
    """One whole HTTP message (head and Content-Length body) from `conn`, and what is left:
    a request, or the endpoint's answer to one (the proxy reads those too)."""
    while b"\r\n\r\n" not in buffer:
        chunk = _recv(conn, stop)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = _recv(conn, stop)
        if not chunk:
            return None, b""
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def _recv(conn: socket.socket, stop: threading.Event) -> bytes:
    while not stop.is_set():
        try:
            return conn.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return b""
    return b""
