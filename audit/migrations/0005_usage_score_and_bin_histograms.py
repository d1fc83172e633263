"""The usage summary keeps each day's served scores' histogram and characteristic bins, every
key's together (the stability report's PSI and CSI); days summarized before have neither."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_merge_summaries_exports_stability'),
    ]

    operations = [
        migrations.AddField(
            model_name='dailyusagestatus',
            name='characteristic_bins',
            field=models.JSONField(default=dict, editable=False, help_text='Scores served per bin of each characteristic, per scorecard version.', verbose_name='characteristic bins'),
        ),
        migrations.AddField(
            model_name='dailyusagestatus',
            name='score_histogram',
            field=models.JSONField(default=list, editable=False, help_text='Scores served per bucket of 10 points.', verbose_name='score histogram'),
        ),
    ]
