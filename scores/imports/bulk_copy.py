"""Rows into a table with Postgres's COPY: through psycopg2's `copy_expert` on Django's own
cursor (connection.cursor()), for the import's bulk writes; callers use `bulk_create` on
SQLite (`make run`).

COPY takes the rows as text, typed by Postgres and checked by the table's constraints like
an INSERT's, without a model instance or a placeholder per value.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def rows_copy(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """COPY `rows` (each the text of `fields`, in order) into `model`'s table. The values are
    ours (hashes, numbers, times, masked CPFs): never a tab, a newline or a backslash. A row
    that breaks a constraint is an IntegrityError, as an INSERT's would be."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in fields)  # type: ignore[union-attr]
    text = "".join("\t".join(row) + "\n" for row in rows)
    # psycopg2 is the driver (requirements.txt); another driver fails here, loudly.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.copy_expert(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN", io.StringIO(text))
