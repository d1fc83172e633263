"""Request body parsing: JSON only, bounded in size and depth, and unambiguous.

What each hostile body gets, and why, is in docs/api.md ("Input limits").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from scoreportal.api.errors import ApiError
from scoreportal.error_codes import ErrorCode
from scoreportal.logging import redact

# Containers within containers: a request body of this API is 2 deep ({"cpfs": [...]}).
MAX_JSON_DEPTH = 32

_NOT_JSON = "The request body is not valid JSON."
_NOT_UTF8 = "The request body must be JSON encoded as UTF-8."
_TOO_DEEP = f"The request body is nested deeper than {MAX_JSON_DEPTH} levels."
_NO_LENGTH = "Send the body with a Content-Length header; a chunked body is not read."


class _DuplicateField(ValueError):
    """An object names a field twice: which value did the client mean?"""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateField(name)
            seen.add(name)
    return obj


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` deep in a parsed document (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(BaseParser):
    """Parse a JSON body of at most settings.API_MAX_BODY_BYTES, as strictly as it is read.

    DRF's JSONParser reads the stream unbounded, lets a deeply nested document raise
    RecursionError (a 500), accepts NaN and Infinity, and keeps the last of two fields of
    the same name. This parser answers 413 past the size limit and 400 for any of the rest:
    NaN or Infinity, nesting deeper than MAX_JSON_DEPTH (the same answer at 33 levels as at
    the recursion limit, whatever the stack depth), a field named twice in one object
    (another reader, a proxy's or a WAF's, may keep the first), and a body that is not
    UTF-8 (RFC 8259 §8.1; a leading byte order mark is ignored, as it allows).
    """

    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise ApiError(
                ErrorCode.PAYLOAD_TOO_LARGE, f"The request body must not exceed {limit} bytes."
            )
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(ErrorCode.INVALID_REQUEST, _NOT_UTF8) from None
        try:
            data = json.loads(
                text,
                parse_constant=_reject_constant,
                object_pairs_hook=_object_without_duplicates,
            )
        except RecursionError:
            raise ApiError(ErrorCode.INVALID_REQUEST, _TOO_DEEP) from None
        except _DuplicateField as exc:
            # The name is echoed redacted and cut short: a client may send anything as one.
            name = redact(str(exc)[:40])
            raise ApiError(
                ErrorCode.INVALID_REQUEST, f"The field {name!r} appears more than once."
            ) from None
        except ValueError:
            raise ApiError(ErrorCode.INVALID_REQUEST, _NOT_JSON) from None
        # Only a body with more brackets than the limit can nest past it: a bare count first.
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _deeper_than(
            data, MAX_JSON_DEPTH
        ):
            raise ApiError(ErrorCode.INVALID_REQUEST, _TOO_DEEP)
        return data


def request_data(request: Request) -> Any:
    """The request's parsed body (`request.data`), or the refusal of a body it cannot read.

    Django reads a body by its Content-Length only: a chunked body, which gunicorn hands on
    without one, would be taken as empty (and the client told its CPF is missing). On Lambda
    the body arrives whole and Zappa sets the length, so this never refuses there.
    """
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        raise ApiError(ErrorCode.INVALID_REQUEST, _NO_LENGTH)
    return request.data
