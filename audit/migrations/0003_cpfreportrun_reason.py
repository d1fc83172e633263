"""A report for a CPF keeps why it was run (`reason`).

Postgres adds the column in place (no row is updated: the append-only triggers stay). SQLite
(laptops) rebuilds the table for a NOT NULL column, which drops its triggers: they are
dropped first and created again after, as scores' migration 0008 made them.
"""

from django.db import migrations, models

from scoreportal.migration_sql import run_vendor_sql

TABLE = "scores_cpfreportrun"
# The audit records' six-month floor as it was when the triggers were written: a migration
# keeps the SQL it ran.
AUDIT_RETENTION_MIN_DAYS = 184
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END;
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    WHEN OLD.occurred_at >= datetime('now', '-{AUDIT_RETENTION_MIN_DAYS} days')
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END;
    """,
]
SQLITE_DROP_TRIGGERS = [f"DROP TRIGGER {TABLE}_no_delete;", f"DROP TRIGGER {TABLE}_no_update;"]


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_dailyusagestatus_summarized_by"),
    ]

    operations = [
        run_vendor_sql(
            {"postgresql": [], "sqlite": SQLITE_DROP_TRIGGERS},
            {"postgresql": [], "sqlite": SQLITE_TRIGGERS},
        ),
        migrations.AddField(
            model_name="cpfreportrun",
            name="reason",
            field=models.CharField(
                blank=True, default="", editable=False, max_length=500, verbose_name="reason"
            ),
        ),
        run_vendor_sql(
            {"postgresql": [], "sqlite": SQLITE_TRIGGERS},
            {"postgresql": [], "sqlite": SQLITE_DROP_TRIGGERS},
        ),
    ]
