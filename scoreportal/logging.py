"""Structured logging: one JSON object per line, with CPFs, API keys and tokens redacted.

Redaction is the second line of defence, not the first: code never logs a CPF, a key or a
token on purpose (the request log names routes, not paths), and the loggers that would
write a path, a query string or a header are kept quiet in settings.LOGGING. What a
library still writes is scrubbed here, in any spelling it comes in: percent-encoded, with
`+` for spaces, backslash-escaped, or with any punctuation between the digit groups.
"""

from __future__ import annotations

import html
import json
import logging
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import unquote_plus

# The identifiers we generate (request ids: UUIDs) are left whole: eleven digits in a row
# inside one are not a CPF, and "quote the request id" must keep working.
_UUID = r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])"
# Eleven digits, bare or with a little punctuation or space of any kind between them (the
# usual 3-3-3-2 groups or any other), not part of a longer number. [0-9], not \d: text is
# NFKC-normalised first, so other digits have become these.
_GAP = r"[\s.,/_+-]{0,3}"
_CPF = rf"(?<![0-9])[0-9](?:{_GAP}[0-9]){{10}}(?![0-9])"
# djangorestframework-api-key's "prefix.secret" (8 + 32 alphanumerics).
_API_KEY = r"(?<![A-Za-z0-9])[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}(?![A-Za-z0-9])"
# Django's password-reset tokens (a password-set link's): base-36 time, '-', 32 hex digits.
_PASSWORD_LINK = r"(?<![A-Za-z0-9])[0-9a-z]{1,13}-[0-9a-f]{32}(?![A-Za-z0-9])"  # noqa: S105 (a pattern)
_SHAPES = re.compile(
    f"(?P<uuid>{_UUID})|(?P<cpf>{_CPF})|(?P<key>{_API_KEY})|(?P<token>{_PASSWORD_LINK})"
)
_CPF_SHAPE = re.compile(f"(?P<uuid>{_UUID})|(?P<cpf>{_CPF})")

# Escapes a library may write text in: \t, \xa0, \u00a0 (Python's and JSON's).
_BACKSLASH_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|([tnrfv]))")
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}
# What only decoding can change in ASCII text.
_ENCODED = re.compile(r"[%+\\&]")


def _unescaped(match: re.Match[str]) -> str:
    code = match[1] or match[2]
    return chr(int(code, 16)) if code else _CONTROL[match[3]]


def decoded(text: str) -> str:
    """`text` as a person would read it: percent-decoded (with `+` as a space, twice for
    text encoded twice), backslash escapes and HTML entities undone, NFKC-normalised (so
    a no-break space is a space and full-width digits are digits)."""
    for _ in range(2):
        text = unquote_plus(text, errors="replace")
    text = _BACKSLASH_ESCAPE.sub(_unescaped, text)
    return unicodedata.normalize("NFKC", html.unescape(text))


def _masked(match: re.Match[str]) -> str:
    if match["cpf"]:
        return "[REDACTED-CPF]"
    if match["key"]:
        return "[REDACTED-API-KEY]"
    if match["token"]:
        return "[REDACTED-TOKEN]"
    return match[0]  # a UUID: ours, kept


def redact(text: str) -> str:
    """Replace anything shaped like a CPF, an API key or a password-set token, in any
    spelling, leaving UUIDs whole. Where decoding the text (see `decoded`) shows one that
    its written form hides, the text comes back decoded, with each one replaced."""
    text = _SHAPES.sub(_masked, text)
    if text.isascii() and not _ENCODED.search(text):
        return text  # nothing to decode: what it shows is what it says
    readable = decoded(text)
    redacted = _SHAPES.sub(_masked, readable)
    return redacted if redacted != readable else text


def holds_cpf(text: str) -> bool:
    """Whether `text` holds something shaped like a CPF, in any spelling `redact` knows."""
    return any(match["cpf"] for match in _CPF_SHAPE.finditer(decoded(text)))


def cpf_shapes(text: str) -> list[str]:
    """The digits of each CPF-shaped run in `text` (decoded), in order."""
    return [
        re.sub(r"[^0-9]", "", match[0])
        for match in _CPF_SHAPE.finditer(decoded(text))
        if match["cpf"]
    ]


def _redacted(value: object) -> object:
    """Strings redacted, in structures too; everything else turned into what JSON holds."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """Format a record as one redacted JSON line; structured data goes in `extra={"fields": …}`.

    The message, the fields and the exception are redacted before they are written as
    JSON, whose escapes would otherwise hide a spelling (`\\u00a0`) from the redactor.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({str(k): _redacted(v) for k, v in fields.items()})
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


# A request line as the development server logs it: '"GET /path?query HTTP/1.1"'.
_REQUEST_LINE = re.compile(r"^(?P<method>[A-Z]+) \S+ (?P<version>HTTP/[0-9.]+)$")


class WithoutRequestTarget(logging.Filter):
    """Take the request's path and query out of a record of Django's request, security
    or development-server logger ("Not Found: /api/v1/scores/529…", '"GET /admin/…?q=…
    HTTP/1.1" 200'): a client may write a CPF or a token into either. The route that
    matched (a pattern of ours) takes the path's place where there is one, as in our
    request log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            request = getattr(record, "request", None)
            path = getattr(request, "path", None)
            route = getattr(getattr(request, "resolver_match", None), "route", None)
            shown = f"[{route}]" if route else "[path]"
            record.args = tuple(_without_target(arg, path, shown) for arg in record.args)
        return True


def _without_target(arg: object, path: str | None, shown: str) -> object:
    if not isinstance(arg, str):
        return arg
    if path and arg in (path, path.encode("unicode_escape").decode("ascii")):
        return shown
    line = _REQUEST_LINE.match(arg)
    if line:
        return f"{line['method']} [path] {line['version']}"
    return arg
