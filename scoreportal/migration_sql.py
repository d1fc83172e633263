"""A migration operation for SQL that differs by database (triggers on Postgres and SQLite).

Kept small and stable: migrations import it, so changing its behaviour changes history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import migrations

VendorStatements = Mapping[str, Sequence[str]]


def run_vendor_sql(forward: VendorStatements, reverse: VendorStatements) -> migrations.RunPython:
    """RunPython that executes the statements listed for the connection's vendor.

    A vendor without statements fails the migration: a database silently missing its
    safeguards (append-only audit, permanent revocation) is worse than no migration.
    """

    def run(statements_by_vendor: VendorStatements) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            vendor = schema_editor.connection.vendor
            if vendor not in statements_by_vendor:
                raise NotImplementedError(f"no SQL for {vendor} in this migration")
            for statement in statements_by_vendor[vendor]:
                # params=None: no %-interpolation, so PL/pgSQL's '%' survives.
                schema_editor.execute(statement, params=None)

        return apply

    return migrations.RunPython(run(forward), run(reverse), elidable=False)
