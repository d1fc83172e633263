"""The RateLimit header fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers).

Every answer to a request with a valid API key carries them. A key has two limits (CPFs per
minute, CPFs per São Paulo day); `RateLimit-Limit`, `-Remaining` and `-Reset` describe the
one closest to exhaustion, as the draft allows: the one with fewer units remaining (the
minute on a tie). `RateLimit-Policy` names both.
"""

from __future__ import annotations

from accounts.rate_limits import Usage

_SECONDS_PER_DAY = 86_400


def rate_limit_fields(usage: Usage) -> dict[str, str]:
    """The header fields for a key's usage: RateLimit-Limit, -Remaining, -Reset, -Policy."""
    if usage.day_remaining < usage.minute_remaining:
        limit, remaining, reset = (
            usage.limits.per_day,
            usage.day_remaining,
            usage.day_reset_seconds,
        )
    else:
        limit, remaining, reset = (
            usage.limits.per_minute,
            usage.minute_remaining,
            usage.minute_reset_seconds,
        )
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": (
            f"{usage.limits.per_minute};w=60, {usage.limits.per_day};w={_SECONDS_PER_DAY}"
        ),
    }
