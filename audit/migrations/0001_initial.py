"""The audit app takes the auditors' records over from the scores app (its 0014), in state
only: the tables keep their names (db_table), rows, indexes, triggers and grants.

Their content types are renamed in place, so the permissions, the groups' grants and the
admin's log entries that point at them carry over.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


# The moved models, proxies included (each has its own content type and permissions).
MOVED = ("auditexport", "cpfreport", "cpfreportrun", "dailyusage", "dailyusagestatus", "usagereport")


def move_content_types(apps, from_label, to_label):
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    log_entry_model = apps.get_model("admin", "LogEntry")
    for model in MOVED:
        old = content_type_model.objects.filter(app_label=from_label, model=model).first()
        if old is None:
            continue  # a new database: post_migrate makes the content types afterwards
        new = content_type_model.objects.filter(app_label=to_label, model=model).first()
        if new is None:
            old.app_label = to_label
            old.save(update_fields=["app_label"])
            continue
        # Both exist (a rollback after which post_migrate made the new ones): keep the new
        # one, with the old one's grants and log entries.
        for permission in permission_model.objects.filter(content_type=old):
            twin = permission_model.objects.filter(
                content_type=new, codename=permission.codename
            ).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in permission.group_set.all():
                group.permissions.add(twin)
            for user in permission.user_set.all():
                user.user_permissions.add(twin)
            permission.delete()
        log_entry_model.objects.filter(content_type=old).update(content_type=new)
        old.delete()


def to_audit(apps, schema_editor):
    move_content_types(apps, "scores", "audit")


def to_scores(apps, schema_editor):
    move_content_types(apps, "audit", "scores")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0007_key_handoff'),
        ('scores', '0014_audit_models_move_to_audit'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('admin', '0003_logentry_add_action_flag_choices'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DailyUsageStatus',
                    fields=[
                        ('day', models.DateField(editable=False, primary_key=True, serialize=False, verbose_name='day')),
                        ('covered_until', models.DateTimeField(editable=False, verbose_name='covered until')),
                        ('complete', models.BooleanField(default=False, editable=False, verbose_name='complete')),
                        ('summarized_at', models.DateTimeField(editable=False, verbose_name='summarized at')),
                    ],
                    options={
                        'verbose_name': 'summarized day',
                        'verbose_name_plural': 'summarized days',
                        'db_table': 'scores_dailyusagestatus',
                        'ordering': ['-day'],
                    },
                ),
                migrations.CreateModel(
                    name='CpfReport',
                    fields=[
                    ],
                    options={
                        'verbose_name': 'consultation report by CPF',
                        'verbose_name_plural': 'consultation report by CPF',
                        'proxy': True,
                        'indexes': [],
                        'constraints': [],
                    },
                    bases=('scores.consultation',),
                ),
                migrations.CreateModel(
                    name='DailyUsage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(editable=False, verbose_name='day')),
                        ('requests', models.PositiveIntegerField(default=0, editable=False, verbose_name='requests')),
                        ('consultations', models.PositiveIntegerField(default=0, editable=False, verbose_name='consultations')),
                        ('served', models.PositiveIntegerField(default=0, editable=False, verbose_name='scores served')),
                        ('no_credit_data', models.PositiveIntegerField(default=0, editable=False, verbose_name='no credit data')),
                        ('invalid', models.PositiveIntegerField(default=0, editable=False, verbose_name='invalid requests')),
                        ('refused', models.PositiveIntegerField(default=0, editable=False, verbose_name='refused')),
                        ('throttled', models.PositiveIntegerField(default=0, editable=False, verbose_name='throttled')),
                        ('failed', models.PositiveIntegerField(default=0, editable=False, verbose_name='failed')),
                        ('from_cache', models.PositiveIntegerField(default=0, editable=False, verbose_name='served from the cache')),
                        ('band_low', models.PositiveIntegerField(default=0, editable=False, verbose_name='low band')),
                        ('band_fair', models.PositiveIntegerField(default=0, editable=False, verbose_name='fair band')),
                        ('band_good', models.PositiveIntegerField(default=0, editable=False, verbose_name='good band')),
                        ('band_excellent', models.PositiveIntegerField(default=0, editable=False, verbose_name='excellent band')),
                        ('score_sum', models.PositiveBigIntegerField(default=0, editable=False, verbose_name='sum of scores')),
                        ('latency_histogram', models.JSONField(default=list, editable=False, help_text='Consultations per latency bucket (milliseconds).', verbose_name='latency histogram')),
                        ('api_key', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.apikey', to_field='prefix', verbose_name='API key')),
                        ('organization', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.organization', verbose_name='organization')),
                    ],
                    options={
                        'verbose_name': 'daily usage',
                        'verbose_name_plural': 'daily usage',
                        'db_table': 'scores_dailyusage',
                        'ordering': ['-day'],
                    },
                ),
                migrations.CreateModel(
                    name='UsageReport',
                    fields=[
                    ],
                    options={
                        'verbose_name': 'usage report',
                        'verbose_name_plural': 'usage report',
                        'proxy': True,
                        'indexes': [],
                        'constraints': [],
                    },
                    bases=('audit.dailyusage',),
                ),
                migrations.CreateModel(
                    name='AuditExport',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('occurred_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='time')),
                        ('actor_name', models.CharField(editable=False, help_text='The username when the export ran, kept if the account changes.', max_length=150, verbose_name='exported by (name)')),
                        ('filters', models.CharField(blank=True, editable=False, help_text="The audit trail's filters and search, as in its address.", max_length=2000, verbose_name='filters')),
                        ('cpf_hash', models.CharField(blank=True, editable=False, max_length=64, verbose_name='CPF hash')),
                        ('cpf_masked', models.CharField(blank=True, editable=False, max_length=14, verbose_name='CPF searched')),
                        ('row_count', models.PositiveIntegerField(editable=False, verbose_name='rows')),
                        ('actor', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='exported by')),
                    ],
                    options={
                        'verbose_name': 'audit trail export',
                        'verbose_name_plural': 'audit trail exports',
                        'db_table': 'scores_auditexport',
                        'ordering': ['-occurred_at', '-id'],
                        'indexes': [models.Index(fields=['-occurred_at'], name='auditexport_occurred_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='CpfReportRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('occurred_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='time')),
                        ('actor_name', models.CharField(editable=False, help_text='The username when the report ran, kept if the account changes.', max_length=150, verbose_name='run by (name)')),
                        ('cpf_hash', models.CharField(editable=False, max_length=64, verbose_name='CPF hash')),
                        ('cpf_masked', models.CharField(editable=False, max_length=14, verbose_name='CPF')),
                        ('period_start', models.DateField(editable=False, verbose_name='from')),
                        ('period_end', models.DateField(editable=False, verbose_name='to')),
                        ('output', models.CharField(choices=[('page', 'Page'), ('csv', 'CSV file')], editable=False, max_length=8, verbose_name='output')),
                        ('row_count', models.PositiveIntegerField(editable=False, verbose_name='consultations found')),
                        ('actor', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='run by')),
                    ],
                    options={
                        'verbose_name': 'consultation report by CPF run',
                        'verbose_name_plural': 'consultation report by CPF runs',
                        'db_table': 'scores_cpfreportrun',
                        'ordering': ['-occurred_at', '-id'],
                        'indexes': [models.Index(fields=['-occurred_at'], name='cpfreportrun_occurred_idx'), models.Index(fields=['cpf_hash', '-occurred_at'], name='cpfreportrun_cpf_idx')],
                    },
                ),
                migrations.AddIndex(
                    model_name='dailyusage',
                    index=models.Index(fields=['day'], name='dailyusage_day_idx'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(to_audit, to_scores),
    ]
