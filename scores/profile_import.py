"""Reading credit profiles from CSV: header check and per-row validation (SPEC §11).

The CSV has a `cpf` column and one column per characteristic (PROFILE_CHARACTERISTICS).
Each row is validated against the CreditProfile model's own field rules; messages name the
line and the column, never the value (a misplaced column could hold a CPF).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import translation

from scoreportal.logging import redact
from scores.constants import PROFILE_CHARACTERISTICS
from scores.cpf import Cpf, InvalidCpf
from scores.models import CreditProfile
from scores.scorecard import ProfileValue

CPF_COLUMN = "cpf"
COLUMNS = (CPF_COLUMN, *PROFILE_CHARACTERISTICS)


class ProfileFileError(ValueError):
    """The file as a whole cannot be imported (bad header, not CSV)."""


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A valid row: the CPF and the characteristic values, typed."""

    line: int
    cpf: Cpf
    values: dict[str, ProfileValue]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def read_profiles(file: TextIO) -> Iterator[ProfileRow | RowError]:
    """Yield each data row of `file` as a ProfileRow or a RowError, in file order."""
    reader = csv.reader(file)
    try:
        header = next(reader)
    except StopIteration:
        raise ProfileFileError("the file is empty") from None
    except csv.Error as exc:
        raise ProfileFileError(f"not a CSV file: {exc}") from None
    names = _checked_header(header)
    positions = [names.index(column) for column in COLUMNS]
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield RowError(reader.line_num, "malformed CSV (unbalanced quotes or a NUL byte)")
            continue
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank line
        if len(fields) != len(names):
            yield RowError(line, f"expected {len(names)} columns, found {len(fields)}")
            continue
        yield _parse_row(line, [fields[position] for position in positions])


def _checked_header(header: list[str]) -> list[str]:
    """The column names (trimmed, byte-order mark dropped), or ProfileFileError."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    missing = [column for column in COLUMNS if column not in names]
    unknown = [name for name in names if name not in COLUMNS]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        # Redacted: in a file without a header, a CPF stands where a name should be.
        problems.append(f"unknown column(s): {', '.join(redact(name[:40]) for name in unknown)}")
    if duplicated:
        problems.append(f"repeated column(s): {', '.join(duplicated)}")
    if problems:
        raise ProfileFileError(f"bad header: {'; '.join(problems)}. Expected: {','.join(COLUMNS)}")
    return names


def _parse_row(line: int, fields: list[str]) -> ProfileRow | RowError:
    problems: list[str] = []
    cpf: Cpf | None = None
    try:
        cpf = Cpf.parse(fields[0])
    except InvalidCpf as exc:
        problems.append(f"{CPF_COLUMN}: {exc}")
    values: dict[str, ProfileValue] = {}
    for column, raw in zip(_columns(), fields[1:], strict=True):
        try:
            values[column.name] = column.clean(raw.strip())
        except ValidationError as exc:
            with translation.override("en"):  # the import speaks English, as the API does
                problems.append(f"{column.name}: {' '.join(exc.messages)}")
    if problems or cpf is None:
        return RowError(line, "; ".join(problems))
    return ProfileRow(line=line, cpf=cpf, values=values)


@dataclass(frozen=True, slots=True)
class _Column:
    """A characteristic column: its model field, and the field's range checked inline (a
    value in range skips the validators' calls, a third of the import's time; one out of
    range goes through them, for their messages)."""

    name: str
    field: models.Field[Any, Any]
    decimal: bool
    low: ProfileValue | None
    high: ProfileValue | None
    other_validators: tuple[Callable[[Any], None], ...]

    def clean(self, raw: str) -> ProfileValue:
        """Type a raw value with our own messages, then apply the model field's rules."""
        if not raw:
            raise ValidationError("is required.")
        value: ProfileValue
        if self.decimal:
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise ValidationError("must be a decimal number, like 0.75.") from None
            if not value.is_finite():
                raise ValidationError("must be a finite number.")
        else:
            if not raw.isascii() or not raw.isdigit():
                raise ValidationError("must be a whole number (0 or more), like 3.")
            value = int(raw)
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            self.field.run_validators(value)  # raises, with the field's own message
        for validator in self.other_validators:
            validator(value)
        return value


@cache
def _columns() -> tuple[_Column, ...]:
    columns = []
    for name in PROFILE_CHARACTERISTICS:
        field = CreditProfile._meta.get_field(name)
        if not isinstance(field, models.Field):  # a relation: no characteristic is one
            raise TypeError(f"{name} is not a characteristic column")
        lows, highs, others = [], [], []
        for validator in field.validators:
            if isinstance(validator, MinValueValidator):
                lows.append(_limit(validator))
            elif isinstance(validator, MaxValueValidator):
                highs.append(_limit(validator))
            else:
                others.append(validator)
        columns.append(
            _Column(
                name=name,
                field=field,
                decimal=isinstance(field, models.DecimalField),
                low=max(lows) if lows else None,
                high=min(highs) if highs else None,
                other_validators=tuple(others),
            )
        )
    return tuple(columns)


def _limit(validator: MinValueValidator | MaxValueValidator) -> Any:
    limit = validator.limit_value
    return limit() if callable(limit) else limit
