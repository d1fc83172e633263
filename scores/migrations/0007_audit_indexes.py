"""Indexes for the auditors' questions (docs/audit.md: their plans and sizes at 10 M rows).

- Time, per organization, per key: ascending instead of 0001's descending. Audit rows
  arrive in time order; a B-tree filled in ascending order splits its pages full, one
  filled in descending order leaves them half empty, twice the size. Pages still read
  newest first, by scanning backwards.
- CPF: a hash index on Postgres instead of the (cpf_hash, -occurred_at) B-tree. The lookup
  is always equality on a 64-character hex digest: a hash index stores 4 bytes of it per
  row, and a person's rows are few enough to sort. SQLite (laptops) has no hash indexes
  and gets a B-tree.
- Failures by kind (alone, per organization, per key): partial indexes over the rows that
  were not scored, a small share of the table, so a rare outcome is found without walking
  the scored rows.

Building them locks the audit table against writes while it runs (docs/audit.md has the
times at 10 million rows).
"""

from django.db import migrations, models

from scoreportal.migration_sql import run_vendor_sql

NOT_SCORED = models.Q(("outcome", "scored"), _negated=True)


class Migration(migrations.Migration):

    dependencies = [("scores", "0006_audit_key_by_prefix")]

    operations = [
        *(
            migrations.RemoveIndex(model_name="consultation", name=name)
            for name in (
                "consultation_occurred_idx",
                "consultation_org_idx",
                "consultation_key_idx",
                "consultation_cpf_idx",
            )
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(fields=["occurred_at"], name="consultation_time_idx"),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                fields=["organization", "occurred_at"], name="consultation_org_time_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(fields=["api_key", "occurred_at"], name="consultation_key_time_idx"),
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
                condition=NOT_SCORED,
                fields=["outcome", "occurred_at"],
                name="consultation_failure_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                condition=NOT_SCORED,
                fields=["organization", "outcome", "occurred_at"],
                name="consultation_org_failure_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                condition=NOT_SCORED,
                fields=["api_key", "outcome", "occurred_at"],
                name="consultation_key_failure_idx",
            ),
        ),
    ]
