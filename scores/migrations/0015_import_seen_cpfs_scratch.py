"""The CPFs an import has read become cheap scratch: keyed by (import, CPF hash) with no
surrogate id, no constraint trigger per row, and UNLOGGED on Postgres (no write-ahead log).
Every import keeps them there now, the command line's too (it used a temporary table).

The table is made anew: its rows only live while an import runs. An admin import running
across this deploy forgets the CPFs its phase had read so far, so a CPF repeated across
that moment is not reported: deploy between imports (or upload the file again).
"""

import django.db.models.deletion
from django.db import migrations, models

from scoreportal.migration_sql import run_vendor_sql


class Migration(migrations.Migration):

    dependencies = [
        ("scores", "0014_audit_models_move_to_audit"),
    ]

    operations = [
        migrations.DeleteModel(name="ImportSeenCpf"),
        migrations.CreateModel(
            name="ImportSeenCpf",
            fields=[
                ("pk", models.CompositePrimaryKey("profile_import", "cpf_hash", blank=True, editable=False, primary_key=True, serialize=False, verbose_name="import and CPF hash")),
                ("profile_import", models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="scores.profileimport", verbose_name="credit profile import")),
                ("cpf_hash", models.CharField(max_length=64, verbose_name="CPF hash")),
                ("line", models.PositiveIntegerField(verbose_name="line")),
            ],
            options={
                "verbose_name": "CPF read by an import",
                "verbose_name_plural": "CPFs read by an import",
            },
        ),
        run_vendor_sql(
            {"postgresql": ["ALTER TABLE scores_importseencpf SET UNLOGGED"], "sqlite": []},
            {"postgresql": ["ALTER TABLE scores_importseencpf SET LOGGED"], "sqlite": []},
        ),
    ]
