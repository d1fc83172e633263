"""The usage summary keeps the served scores' histogram and characteristic bins (the
stability report's PSI and CSI); rows summarized before have neither."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_merge_summaries_exports_stability'),
    ]

    operations = [
        migrations.AddField(
            model_name='dailyusage',
            name='characteristic_bins',
            field=models.JSONField(default=dict, editable=False, help_text='Scores served per bin of each characteristic, per scorecard version.', verbose_name='characteristic bins'),
        ),
        migrations.AddField(
            model_name='dailyusage',
            name='score_histogram',
            field=models.JSONField(default=list, editable=False, help_text='Scores served per bucket of 10 points.', verbose_name='score histogram'),
        ),
    ]
