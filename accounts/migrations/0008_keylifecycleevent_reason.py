"""The lifecycle record keeps why a key was revoked (`reason`).

Postgres adds the column in place (no row is updated: the append-only triggers stay). SQLite
(laptops) rebuilds the table for a NOT NULL column, which drops its triggers: they are
dropped first and created again after, as they were.
"""

from django.db import migrations, models

from scoreportal.migration_sql import run_vendor_sql

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER accounts_keylifecycleevent_no_update BEFORE UPDATE ON accounts_keylifecycleevent
    BEGIN SELECT RAISE(ABORT, 'accounts_keylifecycleevent is append-only: UPDATE refused'); END;
    """,
    """
    CREATE TRIGGER accounts_keylifecycleevent_no_delete BEFORE DELETE ON accounts_keylifecycleevent
    BEGIN SELECT RAISE(ABORT, 'accounts_keylifecycleevent is append-only: DELETE refused'); END;
    """,
]
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER accounts_keylifecycleevent_no_delete;",
    "DROP TRIGGER accounts_keylifecycleevent_no_update;",
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_key_handoff"),
    ]

    operations = [
        run_vendor_sql(
            {"postgresql": [], "sqlite": SQLITE_DROP_TRIGGERS},
            {"postgresql": [], "sqlite": SQLITE_TRIGGERS},
        ),
        migrations.AddField(
            model_name="keylifecycleevent",
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
