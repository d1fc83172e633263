"""Handing a just-issued key to the staff member who issued it, once (see KeyHandoff).

The plaintext is never stored: the row holds it XORed with a one-time pad of random
bytes as long as the key, and only the issuer's browser holds the pad (a cookie scoped to
the page that shows the key, for HANDOFF_SECONDS). `key_handoff_take` deletes the row
whether or not it can give the key back.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, KeyHandoff

HANDOFF_SECONDS = 120


@dataclass(frozen=True, slots=True)
class Handoff:
    id: uuid.UUID
    pad: str  # hex: for the issuer's browser only


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


@transaction.atomic
def key_handoff_create(*, api_key: ApiKey, plaintext: str, issued_to: User) -> Handoff:
    """Park a new key for its issuer; returns the row's id and the pad for their browser."""
    KeyHandoff.objects.filter(expires_at__lt=timezone.now()).delete()  # the abandoned ones
    data = plaintext.encode()
    pad = secrets.token_bytes(len(data))
    handoff = KeyHandoff.objects.create(
        api_key=api_key,
        issued_to=issued_to,
        masked_key=_xor(data, pad),
        expires_at=timezone.now() + timedelta(seconds=HANDOFF_SECONDS),
    )
    return Handoff(id=handoff.id, pad=pad.hex())


@transaction.atomic
def key_handoff_take(
    *, handoff_id: uuid.UUID, pad: str | None, user: User
) -> tuple[ApiKey, str | None] | None:
    """The key of a hand-off and, the first time its issuer asks with the pad in time, its
    plaintext; None when there is no such hand-off for this user. The row is gone after."""
    handoff = (
        KeyHandoff.objects.select_for_update()
        .select_related("api_key__organization")
        .filter(id=handoff_id, issued_to=user)
        .first()
    )
    if handoff is None:
        return None
    handoff.delete()
    try:
        pad_bytes = bytes.fromhex(pad or "")
    except ValueError:
        pad_bytes = b""
    masked = bytes(handoff.masked_key)
    if handoff.expires_at < timezone.now() or len(pad_bytes) != len(masked):
        return handoff.api_key, None
    return handoff.api_key, _xor(masked, pad_bytes).decode()
