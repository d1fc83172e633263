"""Per-key rate limit and daily quota, and the version that announces a key's
changes to every instance (accounts/rate_limits.py)."""

import accounts.models
import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_staff_roles'),
    ]

    operations = [
        migrations.AddField(
            model_name='apikey',
            name='daily_quota',
            field=models.PositiveIntegerField(default=accounts.models.default_daily_quota, help_text='CPFs per day (São Paulo time), across all servers.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='daily quota'),
        ),
        migrations.AddField(
            model_name='apikey',
            name='rate_limit_per_minute',
            field=models.PositiveIntegerField(default=accounts.models.default_rate_limit_per_minute, help_text='CPFs per minute, across all servers. A batch of N CPFs counts N.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='rate limit per minute'),
        ),
        migrations.AddField(
            model_name='apikey',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text="Grows with every change all servers must apply at once: revocation, scopes, limits, the organization's deactivation.", verbose_name='version'),
        ),
        migrations.AddConstraint(
            model_name='apikey',
            constraint=models.CheckConstraint(condition=models.Q(('daily_quota__gte', 1), ('rate_limit_per_minute__gte', 1)), name='apikey_limits_positive'),
        ),
    ]
