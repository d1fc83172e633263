"""Hostile requests against a real server process: the app under gunicorn, over raw sockets.

What gunicorn refuses by itself (an over-long request line, too many or too large header
fields, malformed framing) never reaches the application and is answered in gunicorn's own
HTML, not our envelope: gunicorn serves `make run`, the tests and the benchmark only; on AWS,
API Gateway enforces its own limits in front of Lambda (docs/api.md, "Input limits").
Everything else is the application's answer, the envelope. The same table is in
docs/api.md, "Hostile input and what it gets".
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import pytest

from accounts.constants import Scope
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GUNICORN = "gunicorn's own HTML"
SCORE = json.dumps({"cpf": EXAMPLE_CPF}).encode()
LIMIT = 64 * 1024


def exchange(port, request):
    """Send raw bytes (from a thread: a big body may be refused before it is all sent) and
    read the whole answer; returns (status, the envelope's code, GUNICORN, or None)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:

        def send():
            # The server may answer and close before it has read everything.
            with contextlib.suppress(OSError):
                sock.sendall(request)

        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        sender.join(10)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"Transfer-Encoding: chunked" in head:
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    if b"Content-Type: application/json" not in head:
        assert b"Content-Type: text/html" in head
        assert b"<html>" in body
        return status, GUNICORN
    answer = json.loads(body)
    return status, answer["error"]["code"] if "error" in answer else None


def post(
    body=SCORE,
    *,
    path="/api/v1/scores",
    method="POST",
    content_type="application/json",
    length=None,
    headers="",
    key=None,
):
    """A request as bytes; `length` "none" sends no Content-Length, else the body's own."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if key is not None:
        lines.append(f"X-Api-Key: {key}")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if length != "none":
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n" + headers + "\r\n").encode("latin-1") + body


def chunked(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


# name: (request given the key, the answer it must get: status, code)
HOSTILE = {
    "valid score (control)": (lambda key: post(key=key), (200, None)),
    "body of exactly 64 KiB": (
        lambda key: post(b'{"cpf": "52998224725"' + b" " * (LIMIT - 22) + b"}", key=key),
        (200, None),
    ),
    "body of 64 KiB + 1 byte": (
        lambda key: post(b'{"cpf": "52998224725"' + b" " * (LIMIT - 21) + b"}", key=key),
        (413, "payload_too_large"),
    ),
    "body of 10 MB": (lambda key: post(b" " * 10_000_000, key=key), (413, "payload_too_large")),
    "JSON 33 levels deep": (
        lambda key: post(b"[" * 33 + b"]" * 33, key=key),
        (400, "invalid_request"),
    ),
    "JSON 30,000 levels deep": (
        lambda key: post(b"[" * 30_000 + b"]" * 30_000, key=key),
        (400, "invalid_request"),
    ),
    "field named twice": (
        lambda key: post(b'{"cpf": "111.444.777-35", "cpf": "52998224725"}', key=key),
        (400, "invalid_request"),
    ),
    "NaN literal": (lambda key: post(b'{"cpf": NaN}', key=key), (400, "invalid_request")),
    "Infinity literal": (
        lambda key: post(b'{"cpf": "52998224725", "purpose": -Infinity}', key=key),
        (400, "invalid_request"),
    ),
    "UTF-8 byte order mark": (lambda key: post(b"\xef\xbb\xbf" + SCORE, key=key), (200, None)),
    "invalid UTF-8": (
        lambda key: post(b'{"cpf": "5299822\xff4725"}', key=key),
        (400, "invalid_request"),
    ),
    "UTF-16 body": (
        lambda key: post('{"cpf": "52998224725"}'.encode("utf-16"), key=key),
        (400, "invalid_request"),
    ),
    "integer of 5,000 digits": (
        lambda key: post(b'{"cpf": ' + b"9" * 5000 + b"}", key=key),
        (400, "invalid_request"),
    ),
    "Content-Type text/plain": (
        lambda key: post(content_type="text/plain", key=key),
        (400, "invalid_request"),
    ),
    "no Content-Type": (lambda key: post(content_type="", key=key), (400, "invalid_request")),
    "Content-Type application/merge-patch+json": (
        lambda key: post(content_type="application/merge-patch+json", key=key),
        (400, "invalid_request"),
    ),
    "Content-Type APPLICATION/JSON": (
        lambda key: post(content_type="APPLICATION/JSON", key=key),
        (200, None),
    ),
    "charset=utf-16 on a UTF-8 body": (
        lambda key: post(content_type="application/json; charset=utf-16", key=key),
        (200, None),
    ),
    "chunked body, no Content-Length": (
        lambda key: post(
            chunked(SCORE), length="none", headers="Transfer-Encoding: chunked\r\n", key=key
        ),
        (400, "invalid_request"),
    ),
    "Content-Length and chunked (smuggling)": (
        lambda key: post(chunked(SCORE), headers="Transfer-Encoding: chunked\r\n", key=key),
        (400, GUNICORN),
    ),
    "two Content-Length fields": (
        lambda key: post(headers=f"Content-Length: {len(SCORE) + 1}\r\n", key=key),
        (400, GUNICORN),
    ),
    "Content-Length not a number": (lambda key: post(length="abc", key=key), (400, GUNICORN)),
    "URL of 4,000 bytes (query)": (
        lambda key: post(path="/api/v1/scores?" + "a" * 4000, key=key),
        (200, None),
    ),
    "request line over 4,094 bytes": (
        lambda key: post(path="/api/v1/scores?" + "a" * 5000, key=key),
        (414, GUNICORN),
    ),
    "unknown path of 3,000 bytes": (
        lambda key: post(path="/api/v1/" + "a" * 3000, key=key),
        (404, "not_found"),
    ),
    "header value of 8,000 bytes": (
        lambda key: post(headers="X-Padding: " + "a" * 8000 + "\r\n", key=key),
        (200, None),
    ),
    "header field over 8,190 bytes": (
        lambda key: post(headers="X-Padding: " + "a" * 9000 + "\r\n", key=key),
        (431, GUNICORN),
    ),
    "90 header fields": (
        lambda key: post(headers="".join(f"X-Padding-{n}: a\r\n" for n in range(90)), key=key),
        (200, None),
    ),
    "over 100 header fields": (
        lambda key: post(headers="".join(f"X-Padding-{n}: a\r\n" for n in range(101)), key=key),
        (431, GUNICORN),
    ),
    "NUL in a header value": (
        lambda key: post(headers="X-Padding: a\x00b\r\n", key=key),
        (400, GUNICORN),
    ),
    "obsolete header line folding": (
        lambda key: post(headers="X-Padding: a\r\n b\r\n", key=key),
        (400, GUNICORN),
    ),
    "API key of 8,000 characters": (lambda key: post(key="a" * 8000), (401, "invalid_api_key")),
    "API key in the query string only": (
        lambda key: post(path=f"/api/v1/scores?api_key={key}"),
        (401, "missing_api_key"),
    ),
    "unknown method": (lambda key: post(method="FOO", key=key), (405, "method_not_allowed")),
    "POST /api/schema, no key": (
        lambda key: post(path="/api/schema"),
        (405, "method_not_allowed"),
    ),
    "POST /api/schema with a key": (
        lambda key: post(path="/api/schema", key=key),
        (405, "method_not_allowed"),
    ),
    "DELETE /api/docs, no key": (
        lambda key: post(b"", path="/api/docs", method="DELETE", content_type=""),
        (405, "method_not_allowed"),
    ),
    "PUT /api/docs/ with a key": (
        lambda key: post(path="/api/docs/", method="PUT", key=key),
        (405, "method_not_allowed"),
    ),
    "X-HTTP-Method-Override: GET": (
        lambda key: post(headers="X-HTTP-Method-Override: GET\r\n", key=key),
        (200, None),
    ),
    "Host not ours": (
        lambda key: post(key=key).replace(b"Host: 127.0.0.1", b"Host: evil.example"),
        (400, "invalid_request"),
    ),
    "non-ASCII bytes in the path": (
        lambda key: post(key=key).replace(b"/api/v1/scores", b"/api/v1/sc\xc3\xb3res"),
        (400, GUNICORN),
    ),
    "path with ../": (
        lambda key: post(path="/api/v1/../../etc/passwd", key=key),
        (404, "not_found"),
    ),
}


def test_if_hostile_requests_reach_gunicorn_then_each_gets_its_documented_answer(
    start_servers, issue_key, make_profile
):
    make_profile()
    _, key = issue_key(scopes=[Scope.SCORES_READ], rate_limit_per_minute=1000, daily_quota=1000)
    (server,) = start_servers(1)

    answers = {name: exchange(server.port, request(key)) for name, (request, _) in HOSTILE.items()}

    assert answers == {name: answer for name, (_, answer) in HOSTILE.items()}
    # Every request the application saw on the score endpoint left one audit row (the
    # documents' are not consultations).
    seen_by_the_app = [
        name
        for name, (status, code) in answers.items()
        if code != GUNICORN and status != 404 and "Host" not in name and "/api/" not in name
    ]
    assert Consultation.objects.count() == len(seen_by_the_app)
