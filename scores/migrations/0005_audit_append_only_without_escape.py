"""The audit trail is append-only without an escape hatch, and its floor is one constant.

0002's trigger let any session TRUNCATE the audit table after `SET
scoreportal.allow_audit_truncate = on` (meant for the test suite's flushes). That switch is
gone: UPDATE, DELETE and TRUNCATE are refused, whoever asks, except `prune_audit`'s DELETE
of rows older than AUDIT_RETENTION_MIN_DAYS (scores/retention.py; 0002 wrote "6 months",
which is 181 to 184 days). The test suite cleans up as a superuser with
`session_replication_role = replica` (conftest.py), which no application role may set.

One trigger function serves every audit table (it names the table in its refusal); the
tables it guards keep their time in `occurred_at`.
"""

from django.db import migrations

from scoreportal.migration_sql import run_vendor_sql

# The audit trail's six-month floor (audit/retention.py) as it was when this migration was
# written: a migration keeps the SQL it ran.
AUDIT_RETENTION_MIN_DAYS = 184

POSTGRES_FUNCTION = f"""
CREATE FUNCTION scores_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('scoreportal.audit_prune', true) = 'on'
       AND OLD.occurred_at < now() - interval '{AUDIT_RETENTION_MIN_DAYS} days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

POSTGRES_FORWARD = f"""
{POSTGRES_FUNCTION}
DROP TRIGGER scores_consultation_append_only_truncate ON scores_consultation;
DROP TRIGGER scores_consultation_append_only_rows ON scores_consultation;
DROP FUNCTION scores_consultation_append_only();
CREATE TRIGGER scores_consultation_append_only_rows
    BEFORE UPDATE OR DELETE ON scores_consultation
    FOR EACH ROW EXECUTE FUNCTION scores_audit_append_only();
CREATE TRIGGER scores_consultation_append_only_truncate
    BEFORE TRUNCATE ON scores_consultation
    FOR EACH STATEMENT EXECUTE FUNCTION scores_audit_append_only();
"""

# 0002's function and triggers, as they were.
POSTGRES_REVERSE = """
DROP TRIGGER scores_consultation_append_only_truncate ON scores_consultation;
DROP TRIGGER scores_consultation_append_only_rows ON scores_consultation;
DROP FUNCTION scores_audit_append_only();
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


def sqlite_no_delete(days: str) -> str:
    return f"""
    CREATE TRIGGER scores_consultation_no_delete BEFORE DELETE ON scores_consultation
    WHEN OLD.occurred_at >= datetime('now', '{days}')
    BEGIN SELECT RAISE(ABORT, 'scores_consultation is append-only: DELETE refused'); END;
    """


class Migration(migrations.Migration):
    dependencies = [("scores", "0004_consultation_batch_endpoint")]

    operations = [
        run_vendor_sql(
            {
                "postgresql": [POSTGRES_FORWARD],
                "sqlite": [
                    "DROP TRIGGER scores_consultation_no_delete;",
                    sqlite_no_delete(f"-{AUDIT_RETENTION_MIN_DAYS} days"),
                ],
            },
            {
                "postgresql": [POSTGRES_REVERSE],
                "sqlite": [
                    "DROP TRIGGER scores_consultation_no_delete;",
                    sqlite_no_delete("-6 months"),
                ],
            },
        )
    ]
