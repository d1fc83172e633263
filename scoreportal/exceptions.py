"""The base of domain errors: what services and selectors raise, with no HTTP in it.

Each app declares its subclasses in its own `exceptions` module, each with the error code
it is answered with; the API's handler (scoreportal.api.errors) reads that code, and the
admin shows the message to staff with `message_user`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scoreportal.error_codes import ErrorCode


class ApplicationError(Exception):
    """A domain rule said no. `message` is for people, and never echoes personal data.

    Every subclass declares `code` (or inherits one): a class without one is refused when
    it is defined, so no domain error can reach a client as a 500."""

    code: ClassVar[ErrorCode]
    default_message = "The operation could not be completed."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(getattr(cls, "code", None), ErrorCode):
            raise TypeError(f"{cls.__qualname__} must declare its ErrorCode as `code`")

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def response_headers(self) -> dict[str, str]:
        """Header fields the answer carries besides the envelope (none by default)."""
        return {}
