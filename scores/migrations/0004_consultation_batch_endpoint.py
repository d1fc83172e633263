"""Batch answers are audited with their own endpoint value (POST /api/v1/scores/batch)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scores', '0003_labels'),
    ]

    operations = [
        migrations.AlterField(
            model_name='consultation',
            name='endpoint',
            field=models.CharField(choices=[('scores', 'POST /api/v1/scores'), ('scores_batch', 'POST /api/v1/scores/batch')], editable=False, max_length=32, verbose_name='endpoint'),
        ),
    ]
