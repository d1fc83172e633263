"""drf-spectacular hooks."""

from __future__ import annotations

from typing import Any


def document_paths_without_trailing_slash(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> Any:
    """Our routes accept an optional trailing slash; document the canonical form without it."""
    return [(path.rstrip("/") or "/", *rest) for path, *rest in endpoints]
