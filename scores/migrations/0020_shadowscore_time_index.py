"""ShadowScore rows are pruned by age (prune_audit): an index on their time."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0009_staff_authenticator'),
        ('scores', '0019_consultation_characteristic_bins'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='shadowscore',
            index=models.Index(fields=['occurred_at'], name='shadowscore_time_idx'),
        ),
    ]
