"""The audit trail becomes a table partitioned by month (occurred_at), on Postgres.

Retention then drops whole months instead of deleting row by row through the triggers, and
each month's indexes stop growing when the month ends (docs/audit.md). The new table keeps
the name, columns, indexes and append-only triggers; its primary key is (id, occurred_at),
as Postgres requires of a partitioned table (ids stay unique: one identity sequence). The
months are created ahead by django-postgres-extra's partitioning manager
(`manage.py audit_partitions`); this migration creates the first ones: every month the old
rows cover, the next two, and the default partition (rows of no month). Each partition also
gets the TRUNCATE trigger (a statement trigger on the parent does not fire for a TRUNCATE of
one partition).

The old table is renamed `scores_consultation_unpartitioned`. Up to
COPY_IN_MIGRATION_MAX_ROWS rows are copied here and it is dropped; a larger trail is copied
by `manage.py convert_audit_trail` in batches while the service writes (docs/deploy.md).
SQLite (laptops) keeps its one table.
"""

from typing import Any

from django.db import migrations

# Copying this many rows in the migration's transaction takes a few seconds at most.
COPY_IN_MIGRATION_MAX_ROWS = 100_000
# How the partitioning manager names a month, and marks what it may drop.
PARTITION_COMMENT = "psqlextra_auto_partitioned"
MONTHS_AHEAD = 2

INDEXES = [
    ("consultation_time_idx", "(occurred_at)"),
    ("consultation_org_time_idx", "(organization_id, occurred_at)"),
    ("consultation_key_time_idx", "(api_key_id, occurred_at)"),
    ("consultation_request_idx", "(request_id)"),
    ("consultation_cpf_hash_idx", "USING hash (cpf_hash)"),
    ("consultation_failure_idx", "(outcome, occurred_at) WHERE NOT (outcome = 'scored')"),
    (
        "consultation_org_failure_idx",
        "(organization_id, outcome, occurred_at) WHERE NOT (outcome = 'scored')",
    ),
    (
        "consultation_key_failure_idx",
        "(api_key_id, outcome, occurred_at) WHERE NOT (outcome = 'scored')",
    ),
]


def _rename_away(table: str, suffix: str) -> list[str]:
    """Free the names the new table takes: the table's, its sequence's, its indexes'."""
    return [
        f"ALTER TABLE scores_consultation RENAME TO {table}",
        f"ALTER SEQUENCE scores_consultation_id_seq RENAME TO {table}_id_seq",
        f"ALTER TABLE {table} RENAME CONSTRAINT scores_consultation_pkey TO {table}_pkey",
        *(f"ALTER INDEX {name} RENAME TO {name}_{suffix}" for name, _ in INDEXES),
    ]


def _create(source: str, *, partitioned: bool) -> list[str]:
    """The audit table as `source` is, partitioned by month or not, with its indexes and
    append-only triggers."""
    key = "(id, occurred_at)" if partitioned else "(id)"
    partition_by = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
    return [
        "CREATE TABLE scores_consultation (LIKE "
        f"{source} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS"
        f" INCLUDING STORAGE){partition_by}",
        f"ALTER TABLE scores_consultation ADD CONSTRAINT scores_consultation_pkey PRIMARY KEY {key}",
        *(f"CREATE INDEX {name} ON scores_consultation {how}" for name, how in INDEXES),
        "CREATE TRIGGER scores_consultation_append_only_rows"
        " BEFORE UPDATE OR DELETE ON scores_consultation"
        " FOR EACH ROW EXECUTE FUNCTION scores_audit_append_only()",
        "CREATE TRIGGER scores_consultation_append_only_truncate"
        " BEFORE TRUNCATE ON scores_consultation"
        " FOR EACH STATEMENT EXECUTE FUNCTION scores_audit_append_only()",
    ]


def _rows(schema_editor: Any, sql: str) -> list[tuple[Any, ...]]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _move_foreign_keys(schema_editor: Any, source: str) -> None:
    """The foreign keys go to the new table under their names (later migrations, and
    reversing earlier ones, find them by name); the old table, on its way out, needs none."""
    for name, definition in _rows(
        schema_editor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        f" WHERE conrelid = '{source}'::regclass AND contype = 'f' ORDER BY conname",
    ):
        schema_editor.execute(f"ALTER TABLE {source} DROP CONSTRAINT {name}", params=None)
        schema_editor.execute(
            f"ALTER TABLE scores_consultation ADD CONSTRAINT {name} {definition}", params=None
        )


def partition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    old = "scores_consultation_unpartitioned"
    for statement in [*_rename_away(old, "unpartitioned"), *_create(old, partitioned=True)]:
        schema_editor.execute(statement, params=None)
    _move_foreign_keys(schema_editor, old)
    # Every month from the oldest row's to two ahead, in UTC (as the manager counts them).
    [(months,)] = _rows(
        schema_editor,
        "SELECT array_agg(to_char(m, 'YYYY-MM-DD')) FROM generate_series("
        f" date_trunc('month', coalesce((SELECT min(occurred_at) FROM {old}), now())"
        " AT TIME ZONE 'UTC'),"
        f" date_trunc('month', now() AT TIME ZONE 'UTC') + interval '{MONTHS_AHEAD} months',"
        " interval '1 month') AS m",
    )
    # The default partition takes a row of no month: one written with a time far off (a
    # tool's, a clock's), or after months ahead ran out. Recorded, never refused; empty
    # while the months ahead exist (prune_audit removes its old rows one by one).
    schema_editor.execute(
        "CREATE TABLE scores_consultation_default PARTITION OF scores_consultation DEFAULT",
        params=None,
    )
    schema_editor.execute(
        "CREATE TRIGGER scores_consultation_append_only_truncate BEFORE TRUNCATE ON"
        " scores_consultation_default FOR EACH STATEMENT EXECUTE FUNCTION"
        " scores_audit_append_only()",
        params=None,
    )
    for start in months:
        year, month = int(start[:4]), int(start[5:7])
        end = f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
        name = f"scores_consultation_{year:04d}_{month:02d}"
        schema_editor.execute(
            f"CREATE TABLE {name} PARTITION OF scores_consultation FOR VALUES"
            f" FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')",
            params=None,
        )
        schema_editor.execute(f"COMMENT ON TABLE {name} IS '{PARTITION_COMMENT}'", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER scores_consultation_append_only_truncate BEFORE TRUNCATE ON {name}"
            " FOR EACH STATEMENT EXECUTE FUNCTION scores_audit_append_only()",
            params=None,
        )
    # New rows take ids after the old ones: the conversion copies the old ids as they are.
    schema_editor.execute(
        "SELECT setval('scores_consultation_id_seq',"
        f" coalesce((SELECT max(id) FROM {old}), 0) + 1, false)",
        params=None,
    )
    [(count,)] = _rows(
        schema_editor,
        f"SELECT count(*) FROM (SELECT 1 FROM {old} LIMIT {COPY_IN_MIGRATION_MAX_ROWS + 1}) s",
    )
    if count <= COPY_IN_MIGRATION_MAX_ROWS:
        schema_editor.execute(f"INSERT INTO scores_consultation SELECT * FROM {old}", params=None)
        schema_editor.execute(f"DROP TABLE {old}", params=None)


def unpartition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    new = "scores_consultation_partitioned"
    for statement in [*_rename_away(new, "partitioned"), *_create(new, partitioned=False)]:
        schema_editor.execute(statement, params=None)
    _move_foreign_keys(schema_editor, new)
    sources = [new]
    if _rows(schema_editor, "SELECT to_regclass('scores_consultation_unpartitioned')")[0][0]:
        sources.append("scores_consultation_unpartitioned")  # a conversion left unfinished
    for source in sources:
        schema_editor.execute(f"INSERT INTO scores_consultation SELECT * FROM {source}", params=None)
        schema_editor.execute(f"DROP TABLE {source}", params=None)
    schema_editor.execute(
        "SELECT setval('scores_consultation_id_seq',"
        " coalesce((SELECT max(id) FROM scores_consultation), 0) + 1, false)",
        params=None,
    )


class Migration(migrations.Migration):
    dependencies = [("scores", "0015_import_seen_cpfs_scratch")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
