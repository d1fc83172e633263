"""The auditors' records moved from the scores app to this one without losing anything: an
existing database with rows migrates (as the schema's owner, as the ops function does) and
keeps its rows, triggers, permissions, group grants, admin log entries and the serving
role's grants."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.models import AuditExport, CpfReportRun, DailyUsage, DailyUsageStatus
from audit.selectors import usage_report

BEFORE_THE_MOVE = [("audit", None), ("scores", "0013_import_failure_reason")]
MOVED = (
    "auditexport",
    "cpfreport",
    "cpfreportrun",
    "dailyusage",
    "dailyusagestatus",
    "usagereport",
)
APPEND_ONLY = ("scores_auditexport", "scores_cpfreportrun")


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def rows_as_the_old_schema_wrote_them(actor):
    sql(
        "INSERT INTO scores_auditexport (occurred_at, actor_id, actor_name, filters, cpf_hash,"
        " cpf_masked, row_count) VALUES (now(), %s, %s, 'outcome=scored', '', '', 42)",
        [actor.pk, actor.username],
    )
    sql(
        "INSERT INTO scores_cpfreportrun (occurred_at, actor_id, actor_name, cpf_hash,"
        " cpf_masked, period_start, period_end, output, row_count) VALUES (now(), %s, %s,"
        " %s, '***.982.247-**', '2026-05-22', '2026-11-22', 'page', 3)",
        [actor.pk, actor.username, "a" * 64],
    )
    sql(
        "INSERT INTO scores_dailyusage (day, requests, consultations, served, no_credit_data,"
        " invalid, refused, throttled, failed, from_cache, band_low, band_fair, band_good,"
        " band_excellent, score_sum, latency_histogram) VALUES ('2026-11-21', 7, 7, 7, 0, 0,"
        " 0, 0, 0, 5, 0, 0, 7, 0, 4200, %s)",
        ["[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"],
    )
    sql(
        "INSERT INTO scores_dailyusagestatus (day, covered_until, complete, summarized_at)"
        " VALUES ('2026-11-21', '2026-11-22T03:05:00Z', true, now())"
    )


def scores_content_types():
    """The moved models' content types and view permissions as the old code had them (the
    suite's database may have been made by the new code: made here if missing)."""
    types = {}
    for model in MOVED:
        types[model], _ = ContentType.objects.get_or_create(app_label="scores", model=model)
        Permission.objects.get_or_create(
            content_type=types[model], codename=f"view_{model}", defaults={"name": model}
        )
    return types


def privileges(role, table):
    return {
        privilege
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
        if sql("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])[0][0]
    }


@pytest.mark.parametrize(
    "post_migrate_ran_in_between",
    [
        pytest.param(False, id="from-the-old-release"),
        # A rollback after which `migrate` made the audit app's content types anyway: the
        # old ones' grants and log entries join them.
        pytest.param(True, id="after-a-rollback"),
    ],
)
def test_if_a_database_with_rows_migrates_then_rows_grants_triggers_and_history_carry_over(
    connected_as_owner, database_roles, post_migrate_ran_in_between
):
    actor = User.objects.create_user("old-auditor")
    try:
        migrate_to(BEFORE_THE_MOVE)
        rows_as_the_old_schema_wrote_them(actor)
        old_types = scores_content_types()
        old_permissions = {
            model: Permission.objects.get(content_type=old_types[model], codename=f"view_{model}")
            for model in MOVED
        }
        group = Group.objects.create(name="Old auditors")
        group.permissions.set(old_permissions.values())
        actor.groups.add(group)
        export_id = sql("SELECT id FROM scores_auditexport")[0][0]
        entry = LogEntry.objects.create(
            user=actor,
            content_type=old_types["auditexport"],
            object_id=str(export_id),
            object_repr="an export",
            action_flag=CHANGE,
        )
        if post_migrate_ran_in_between:
            for model in MOVED:
                new_type = ContentType.objects.create(app_label="audit", model=model)
                Permission.objects.create(
                    content_type=new_type, codename=f"view_{model}", name=model
                )

        migrate_to(None)

        # Rows, read through the moved models.
        assert AuditExport.objects.get().row_count == 42
        assert CpfReportRun.objects.get().actor == actor
        assert DailyUsage.objects.get().served == 7
        assert DailyUsageStatus.objects.get().complete
        report = usage_report(since=datetime.date(2026, 11, 21), until=datetime.date(2026, 11, 21))
        assert report.total.served == 7
        # Content types: the audit app's, one per model, none left behind in scores.
        assert not ContentType.objects.filter(app_label="scores", model__in=MOVED).exists()
        for model in MOVED:
            moved = ContentType.objects.get(app_label="audit", model=model)
            if not post_migrate_ran_in_between:
                assert moved.pk == old_types[model].pk
                assert Permission.objects.get(pk=old_permissions[model].pk).content_type == moved
        # The group's grants, the user's permissions and the admin's history follow.
        assert set(group.permissions.values_list("content_type__app_label", "codename")) == {
            ("audit", f"view_{model}") for model in MOVED
        }
        actor = User.objects.get(pk=actor.pk)  # no cached permissions
        assert actor.has_perm("audit.view_auditexport")
        assert actor.has_perm("audit.view_usagereport")
        entry.refresh_from_db()
        assert entry.content_type == ContentType.objects.get(app_label="audit", model="auditexport")
        assert entry.get_edited_object() == AuditExport.objects.get()
    finally:
        migrate_to(None)
        # As the deploy does after every migrate.
        call_command(
            "grant_serving_role", "--role", database_roles.serving["USER"], stdout=StringIO()
        )

    # The append-only triggers stayed on the tables.
    for record in (AuditExport, CpfReportRun):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            record.objects.update(row_count=0)
    # And the serving role's grants on them.
    serving = database_roles.serving["USER"]
    for table in APPEND_ONLY:
        assert privileges(serving, table) == {"SELECT", "INSERT"}
    for table in ("scores_dailyusage", "scores_dailyusagestatus"):
        assert privileges(serving, table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
