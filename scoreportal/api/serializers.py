"""Serializer building blocks shared by the API's endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from scoreportal.logging import redact


class StrictInputSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses fields it does not know.

    A misspelt optional field (`"purpse"`) must fail loudly, not be ignored.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                # Names are echoed redacted and cut short: a client may send anything as a key.
                names = ", ".join(redact(name[:40]) for name in unknown[:10])
                raise serializers.ValidationError(
                    {"non_field_errors": [f"Unknown field(s): {names}."]}
                )
        return super().to_internal_value(data)
