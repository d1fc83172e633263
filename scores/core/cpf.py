"""CPF (Cadastro de Pessoas Físicas): validation, canonical form, masking and lookup hash.

The one place that knows what a CPF is. Pure Python, no Django.

- Accepted input: exactly `52998224725` or `529.982.247-25`, surrounding ASCII whitespace
  stripped. Only ASCII digits; no zero-padding; no single repeated digit; both mod-11 check
  digits verified.
- `Cpf.digits` is the canonical 11-digit form. `str()` and `repr()` give only the masked form
  (`***.982.247-**`), so a Cpf that reaches a log line or an error message leaks nothing.
- `Cpf.lookup_hash(key)` is HMAC-SHA256 over the canonical form: the key under which the
  CPF's rows and cache items are stored. The plaintext is never stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass

CANONICAL_LENGTH = 11
# The formatted form is the longest valid input; anything longer is refused outright.
_MAX_INPUT_LENGTH = len("000.000.000-00")
_ASCII_WHITESPACE = " \t\r\n"
# [0-9], not \d: \d also matches full-width and other Unicode decimal digits.
_BARE = re.compile(r"[0-9]{11}")
_FORMATTED = re.compile(r"([0-9]{3})\.([0-9]{3})\.([0-9]{3})-([0-9]{2})")
# The accepted input forms as one ECMA-262 regular expression, for the OpenAPI schema. Check
# digits and repeated digits are beyond a pattern: `Cpf.parse` refuses those on its own.
INPUT_PATTERN = rf"^[ \t\r\n]*({_BARE.pattern}|{_FORMATTED.pattern})[ \t\r\n]*$"
MASKED_PATTERN = r"^\*\*\*\.[0-9]{3}\.[0-9]{3}-\*\*$"


class CpfError(enum.Enum):
    """Why an input is not a CPF; the value is the message shown to API clients."""

    NOT_A_STRING = "CPF must be a string."
    EMPTY = "CPF is empty."
    BAD_FORMAT = "CPF must be 11 digits, bare (00000000000) or formatted (000.000.000-00)."
    REPEATED_DIGITS = "CPF cannot be a single digit repeated."
    BAD_CHECK_DIGITS = "CPF check digits do not match."


class InvalidCpf(ValueError):
    """Raised by `Cpf.parse`; `reason` says why, and never contains the input."""

    def __init__(self, reason: CpfError) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _check_digit(digits: str) -> int:
    """The mod-11 check digit over `digits` (9 digits for the first, 10 for the second)."""
    weight_start = len(digits) + 1
    total = sum(
        int(digit) * weight
        for digit, weight in zip(digits, range(weight_start, 1, -1), strict=True)
    )
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _validation_error(digits: str) -> CpfError | None:
    if digits == digits[0] * CANONICAL_LENGTH:
        return CpfError.REPEATED_DIGITS
    first = _check_digit(digits[:9])
    second = _check_digit(digits[:10])
    if digits[9:] != f"{first}{second}":
        return CpfError.BAD_CHECK_DIGITS
    return None


@dataclass(frozen=True, slots=True, repr=False)
class Cpf:
    """A valid CPF. Build one with `Cpf.parse` (input) or `Cpf.from_base` (generation)."""

    digits: str

    def __post_init__(self) -> None:
        if not _BARE.fullmatch(self.digits):
            raise InvalidCpf(CpfError.BAD_FORMAT)
        error = _validation_error(self.digits)
        if error is not None:
            raise InvalidCpf(error)

    @classmethod
    def parse(cls, value: object) -> Cpf:
        """Parse client input; raise InvalidCpf for anything but a valid CPF string."""
        if not isinstance(value, str):
            raise InvalidCpf(CpfError.NOT_A_STRING)
        text = value.strip(_ASCII_WHITESPACE)
        if not text:
            raise InvalidCpf(CpfError.EMPTY)
        if len(text) > _MAX_INPUT_LENGTH:
            raise InvalidCpf(CpfError.BAD_FORMAT)
        if _BARE.fullmatch(text):
            return cls(text)
        formatted = _FORMATTED.fullmatch(text)
        if formatted:
            return cls("".join(formatted.groups()))
        raise InvalidCpf(CpfError.BAD_FORMAT)

    @classmethod
    def from_base(cls, base: str) -> Cpf:
        """The CPF whose first nine digits are `base` (for seeding and tests)."""
        first = _check_digit(base)
        second = _check_digit(f"{base}{first}")
        return cls(f"{base}{first}{second}")

    @property
    def masked(self) -> str:
        """Display form: `***.982.247-**`."""
        return f"***.{self.digits[3:6]}.{self.digits[6:9]}-**"

    @property
    def formatted(self) -> str:
        """Full display form `529.982.247-25`: for the person's own eyes only, never stored."""
        d = self.digits
        return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"

    def lookup_hash(self, key: bytes) -> str:
        """HMAC-SHA256(key, canonical digits) in hex: the storage key of this CPF."""
        return hmac.new(key, self.digits.encode("ascii"), hashlib.sha256).hexdigest()

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Cpf({self.masked!r})"
