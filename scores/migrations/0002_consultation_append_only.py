"""The audit trail is append-only: the database itself refuses UPDATE, DELETE and TRUNCATE.

Postgres: one trigger function for row-level UPDATE/DELETE and statement-level TRUNCATE.
The only deletion it lets through is `manage.py prune_audit`'s, which sets
`scoreportal.audit_prune = on` for its transaction, and only of rows older than six months
(the legal floor, whatever AUDIT_RETENTION_DAYS says). `scoreportal.allow_audit_truncate`
exists for the test suite's table flush between transactional tests, and nothing else.

SQLite (laptops): equivalent triggers; rows older than six months may be deleted.
"""

from django.db import migrations

from scoreportal.migration_sql import run_vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION scores_consultation_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('scoreportal.audit_prune', true) = 'on'
       AND OLD.occurred_at < now() - interval '6 months' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'TRUNCATE'
       AND current_setting('scoreportal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'scores_consultation is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER scores_consultation_append_only_rows
    BEFORE UPDATE OR DELETE ON scores_consultation
    FOR EACH ROW EXECUTE FUNCTION scores_consultation_append_only();
CREATE TRIGGER scores_consultation_append_only_truncate
    BEFORE TRUNCATE ON scores_consultation
    FOR EACH STATEMENT EXECUTE FUNCTION scores_consultation_append_only();
"""

POSTGRES_REVERSE = """
DROP TRIGGER scores_consultation_append_only_truncate ON scores_consultation;
DROP TRIGGER scores_consultation_append_only_rows ON scores_consultation;
DROP FUNCTION scores_consultation_append_only();
"""

SQLITE_FORWARD = [
    """
    CREATE TRIGGER scores_consultation_no_update BEFORE UPDATE ON scores_consultation
    BEGIN SELECT RAISE(ABORT, 'scores_consultation is append-only: UPDATE refused'); END;
    """,
    """
    CREATE TRIGGER scores_consultation_no_delete BEFORE DELETE ON scores_consultation
    WHEN OLD.occurred_at >= datetime('now', '-6 months')
    BEGIN SELECT RAISE(ABORT, 'scores_consultation is append-only: DELETE refused'); END;
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER scores_consultation_no_delete;",
    "DROP TRIGGER scores_consultation_no_update;",
]


class Migration(migrations.Migration):
    dependencies = [("scores", "0001_initial")]

    operations = [
        run_vendor_sql(
            {"postgresql": [POSTGRES_FORWARD], "sqlite": SQLITE_FORWARD},
            {"postgresql": [POSTGRES_REVERSE], "sqlite": SQLITE_REVERSE},
        )
    ]
