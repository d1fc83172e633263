"""Request body parsing: JSON only, bounded in size and depth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from scoreportal.api.errors import ApiError, ErrorCode


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(BaseParser):
    """Parse a JSON body of at most settings.API_MAX_BODY_BYTES.

    DRF's JSONParser reads the stream unbounded and lets a deeply nested document raise
    RecursionError (a 500); this parser answers 413 and 400 instead.
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
            return json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise ApiError(
                ErrorCode.INVALID_REQUEST, "The request body is not valid JSON."
            ) from None
