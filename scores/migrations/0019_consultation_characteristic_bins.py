"""Each audit row keeps the served score's characteristic bins (characteristic stability).
With a database default: adding it to the partitioned table rewrites no row."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scores', '0018_consumer_requests'),
    ]

    operations = [
        migrations.AddField(
            model_name='consultation',
            name='characteristic_bins',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64, verbose_name='characteristic bins'),
        ),
    ]
