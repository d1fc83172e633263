"""Audit rows reference their API key by its unique prefix (8 characters), not by its
primary key (`prefix.sha512$$…`, up to 150): the largest part of each row and of the
(api_key, -occurred_at) index, and a key hash in admin URLs.

Existing rows are kept, and the append-only guarantee with them: on Postgres the column
is rewritten in place by one `ALTER TABLE … ALTER COLUMN … TYPE … USING` (a table rewrite,
not UPDATEs: no row trigger fires, none is disabled, no dead rows are left behind). It
holds an exclusive lock on the audit table while it runs, so score requests wait for it
(docs/audit.md has its duration at 10 million rows). A key's primary key is
`<prefix>.<hash>`, which the migration checks before relying on it.

SQLite (laptops): Django rebuilds the table; the rows are re-pointed first, with the
append-only triggers dropped for this migration and created again after it.
"""

from typing import Any

from django.db import migrations, models
import django.db.models.deletion

from scoreportal.migration_sql import run_vendor_sql

# The audit trail's six-month floor (audit/retention.py) as it was when this migration was
# written: a migration keeps the SQL it ran.
AUDIT_RETENTION_MIN_DAYS = 184

POSTGRES_FORWARD = """
DO $$
DECLARE
    fk text;
BEGIN
    IF EXISTS (SELECT 1 FROM accounts_apikey WHERE split_part(id, '.', 1) <> prefix) THEN
        RAISE EXCEPTION 'an API key''s id does not start with its prefix';
    END IF;
    FOR fk IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'scores_consultation'::regclass AND contype = 'f'
          AND confrelid = 'accounts_apikey'::regclass
    LOOP
        EXECUTE format('ALTER TABLE scores_consultation DROP CONSTRAINT %I', fk);
    END LOOP;
END;
$$;
ALTER TABLE scores_consultation
    ALTER COLUMN api_key_id TYPE varchar(8) USING split_part(api_key_id, '.', 1);
ALTER TABLE scores_consultation
    ADD CONSTRAINT scores_consultation_api_key_id_fk_accounts_apikey_prefix
    FOREIGN KEY (api_key_id) REFERENCES accounts_apikey (prefix) DEFERRABLE INITIALLY DEFERRED;
"""

# A function may query inside USING, where a subquery may not.
POSTGRES_REVERSE = """
ALTER TABLE scores_consultation
    DROP CONSTRAINT scores_consultation_api_key_id_fk_accounts_apikey_prefix;
CREATE FUNCTION pg_temp.scores_api_key_id_of(key_prefix varchar) RETURNS varchar
LANGUAGE sql STABLE AS $$ SELECT id FROM accounts_apikey WHERE prefix = key_prefix $$;
ALTER TABLE scores_consultation
    ALTER COLUMN api_key_id TYPE varchar(150) USING pg_temp.scores_api_key_id_of(api_key_id);
DROP FUNCTION pg_temp.scores_api_key_id_of(varchar);
ALTER TABLE scores_consultation
    ADD CONSTRAINT scores_consultation_api_key_id_b839dc48_fk_accounts_apikey_id
    FOREIGN KEY (api_key_id) REFERENCES accounts_apikey (id) DEFERRABLE INITIALLY DEFERRED;
"""

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER scores_consultation_no_update BEFORE UPDATE ON scores_consultation
    BEGIN SELECT RAISE(ABORT, 'scores_consultation is append-only: UPDATE refused'); END;
    """,
    f"""
    CREATE TRIGGER scores_consultation_no_delete BEFORE DELETE ON scores_consultation
    WHEN OLD.occurred_at >= datetime('now', '-{AUDIT_RETENTION_MIN_DAYS} days')
    BEGIN SELECT RAISE(ABORT, 'scores_consultation is append-only: DELETE refused'); END;
    """,
]
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER scores_consultation_no_delete;",
    "DROP TRIGGER scores_consultation_no_update;",
]


class AlterFieldExceptOnPostgres(migrations.AlterField):
    """The field's new state everywhere; its schema change by Django except on Postgres,
    where the SQL above has made it."""

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


class Migration(migrations.Migration):
    dependencies = [("scores", "0005_audit_append_only_without_escape")]

    operations = [
        run_vendor_sql(
            {
                "postgresql": [POSTGRES_FORWARD],
                "sqlite": [
                    *SQLITE_DROP_TRIGGERS,
                    """
                    UPDATE scores_consultation
                    SET api_key_id = substr(api_key_id, 1, instr(api_key_id, '.') - 1)
                    WHERE api_key_id IS NOT NULL;
                    """,
                ],
            },
            {
                "postgresql": [POSTGRES_REVERSE],
                "sqlite": [
                    """
                    UPDATE scores_consultation
                    SET api_key_id = (
                        SELECT id FROM accounts_apikey WHERE prefix = scores_consultation.api_key_id
                    )
                    WHERE api_key_id IS NOT NULL;
                    """,
                    *SQLITE_TRIGGERS,
                ],
            },
        ),
        AlterFieldExceptOnPostgres(
            model_name="consultation",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="consultations",
                to="accounts.apikey",
                to_field="prefix",
                verbose_name="API key",
            ),
        ),
        run_vendor_sql(
            {"postgresql": [], "sqlite": SQLITE_TRIGGERS},
            {"postgresql": [], "sqlite": SQLITE_DROP_TRIGGERS},
        ),
    ]
