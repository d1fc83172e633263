"""The base of domain errors: what services and selectors raise, with no HTTP in it.

Each app declares its own subclasses (`scores.exceptions`, `accounts.exceptions`). Only the
API layer (scoreportal.api.errors) maps them to error codes and HTTP statuses, and the admin
shows them to staff with `message_user`.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A domain rule said no. `message` is for people, and never echoes personal data."""

    default_message = "The operation could not be completed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
