"""Structured logging: one JSON object per line, with CPFs and API keys redacted.

Redaction is the last line of defence, not the first: code never logs a CPF or a key on
purpose (the request log names routes, not paths). But a client can put a CPF in a URL or
a query string, and Django and the dev server log those; the formatter scrubs every line.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# The identifiers we generate (request ids: UUIDs) are left whole: eleven digits in a row
# inside one are not a CPF, and "quote the request id" must keep working.
_UUID = r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])"
# Eleven digits, bare or in any common CPF punctuation, not part of a longer number.
_CPF = r"(?<![0-9])[0-9]{3}[.\s]?[0-9]{3}[.\s]?[0-9]{3}[-.\s/]?[0-9]{2}(?![0-9])"
# djangorestframework-api-key's "prefix.secret" (8 + 32 alphanumerics).
_API_KEY = r"(?<![A-Za-z0-9])[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}(?![A-Za-z0-9])"
_SHAPES = re.compile(f"(?P<uuid>{_UUID})|(?P<cpf>{_CPF})|(?P<key>{_API_KEY})")


def _masked(match: re.Match[str]) -> str:
    if match["cpf"]:
        return "[REDACTED-CPF]"
    if match["key"]:
        return "[REDACTED-API-KEY]"
    return match[0]  # a UUID: ours, kept


def redact(text: str) -> str:
    """Replace anything shaped like a CPF or an API key, leaving UUIDs whole."""
    return _SHAPES.sub(_masked, text)


class JsonFormatter(logging.Formatter):
    """Format a record as one redacted JSON line; structured data goes in `extra={"fields": …}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))
