"""The auditors' records move to the audit app (its migration 0001): from this app's state
only. Their tables, rows, indexes and triggers stay as they are, under their names."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('scores', '0013_import_failure_reason'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='auditexport',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='cpfreportrun',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='dailyusage',
                    name='api_key',
                ),
                migrations.RemoveField(
                    model_name='dailyusage',
                    name='organization',
                ),
                migrations.DeleteModel(
                    name='DailyUsageStatus',
                ),
                migrations.DeleteModel(
                    name='CpfReport',
                ),
                migrations.DeleteModel(
                    name='UsageReport',
                ),
                migrations.DeleteModel(
                    name='AuditExport',
                ),
                migrations.DeleteModel(
                    name='CpfReportRun',
                ),
                migrations.DeleteModel(
                    name='DailyUsage',
                ),
            ],
            database_operations=[],
        ),
    ]
