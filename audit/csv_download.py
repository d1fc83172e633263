"""CSV downloads of the auditors' pages, streamed: constant memory, whatever the rows.

Spreadsheets are where these files go, so they are written for the reader's language:
headers translated, and in Portuguese the separator is `;` because the decimal separator
is `,` (what a Brazilian spreadsheet expects). A byte-order mark tells spreadsheets the
file is UTF-8. Times are local (`2026-11-22 15:25:07`, the time zone named in the header):
every spreadsheet reads that form as a time.

No cell is ever read as a formula (CSV injection): text that starts as a formula does
(`=`, `+`, `-`, `@`, tab, carriage return) is written after a single quote, as OWASP
advises, since staff and API clients write some of it (organization names, presented
key prefixes). Numbers, and text that is only a number, are left as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Field, Model
from django.http import StreamingHttpResponse
from django.utils import formats, timezone, translation
from django.utils.text import capfirst

# Rows written to the response per chunk: few writes, little memory.
ROWS_PER_CHUNK = 1000
BYTE_ORDER_MARK = "\ufeff"
# Where the decimal separator is a comma, the fields are separated by semicolons.
_SEMICOLON_LANGUAGES = {"pt-br"}
# A spreadsheet reads a cell that starts with one of these as a formula.
_FORMULA_STARTS = frozenset("=+-@\t\r")
# A negative figure (csv_decimal's `-1,5`) cannot be a formula: left as a number.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


class _Line:
    """A file-like object whose write returns what was written (csv.writer's output)."""

    def write(self, value: str) -> str:
        return value


def delimiter() -> str:
    """The field separator for the active language."""
    return ";" if translation.get_language() in _SEMICOLON_LANGUAGES else ","


def csv_time(value: datetime | None) -> str:
    """A time as local `YYYY-MM-DD HH:MM:SS`."""
    return "" if value is None else timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def csv_decimal(value: float | None, places: int = 1) -> str:
    """A number with the active language's decimal separator and no grouping."""
    if value is None:
        return ""
    return f"{value:.{places}f}".replace(".", str(formats.get_format("DECIMAL_SEPARATOR")))


def csv_cell(value: Any) -> Any:
    """`value` as a spreadsheet must read it: text that would start a formula is
    written after a single quote, so the spreadsheet shows it as text."""
    if (
        isinstance(value, str)
        and value[:1] in _FORMULA_STARTS
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed CSV attachment of `rows` under `header`, every cell through csv_cell."""
    writer = csv.writer(_Line(), delimiter=delimiter())
    # The rows are produced while the server sends the response, after the view returned:
    # in the language of the request that asked for them.
    language = translation.get_language()

    def lines() -> Iterator[str]:
        with translation.override(language):
            yield BYTE_ORDER_MARK + writer.writerow([csv_cell(str(title)) for title in header])
            chunk: list[str] = []
            for row in rows:
                chunk.append(writer.writerow([csv_cell(value) for value in row]))
                if len(chunk) == ROWS_PER_CHUNK:
                    yield "".join(chunk)
                    chunk = []
            if chunk:
                yield "".join(chunk)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # audit data: no copies in caches
    return response


def model_field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):  # pragma: no cover  (our names are fields)
        raise TypeError(name)
    return field


def field_label(model: type[Model], name: str) -> str:
    """A column's heading: the field's label, in the active language."""
    return str(capfirst(model_field(model, name).verbose_name))


def local_now_stamp() -> str:
    """Now, in São Paulo, for a download's name."""
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


def download_name(stem: str, suffix: str) -> str:
    """A download's name: a translated stem (its own call, so makemessages finds it)."""
    return f"{stem}-{suffix}.csv"
