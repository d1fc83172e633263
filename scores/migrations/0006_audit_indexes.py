"""Indexes for the auditors' questions (docs/audit.md: their plans and sizes at 10 M rows).

- CPF: a hash index on Postgres instead of the (cpf_hash, -occurred_at) B-tree. The lookup
  is always equality on a 64-character hex digest: a hash index stores 4 bytes of it per
  row, about a third of the B-tree's size, and a person's rows are few enough to sort.
  SQLite (laptops) has no hash indexes and gets a B-tree.
- Failures by kind (alone, and per organization): partial indexes over the rows that were
  not scored, a small share of the table, so a rare outcome is found without walking the
  scored rows.
"""

from django.db import migrations, models

from scoreportal.migration_sql import run_vendor_sql


class Migration(migrations.Migration):

    dependencies = [("scores", "0005_audit_key_by_prefix")]

    operations = [
        migrations.RemoveIndex(
            model_name="consultation",
            name="consultation_cpf_idx",
        ),
        run_vendor_sql(
            {
                "postgresql": [
                    "CREATE INDEX consultation_cpf_hash_idx ON scores_consultation USING hash (cpf_hash);"
                ],
                "sqlite": ["CREATE INDEX consultation_cpf_hash_idx ON scores_consultation (cpf_hash);"],
            },
            {
                "postgresql": ["DROP INDEX consultation_cpf_hash_idx;"],
                "sqlite": ["DROP INDEX consultation_cpf_hash_idx;"],
            },
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                condition=models.Q(("outcome", "scored"), _negated=True),
                fields=["outcome", "-occurred_at"],
                name="consultation_failure_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                condition=models.Q(("outcome", "scored"), _negated=True),
                fields=["organization", "outcome", "-occurred_at"],
                name="consultation_org_failure_idx",
            ),
        ),
    ]
