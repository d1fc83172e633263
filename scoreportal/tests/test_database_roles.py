"""The database's two roles: what the serving role (the suite's own connection, as the
request path's) may not do to the audit trail and the other append-only records, what
`grant_serving_role` gives and repairs, and `ensure_database_roles` run the way the ops
function runs it, as a master user that is not a superuser (RDS's)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from accounts.models import KeyLifecycleEvent
from audit.models import AuditExportDownload, CpfReportRun, UsageSummaryRefresh
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from devstack.services import postgres_cluster
from scoreportal.database_roles import grant_serving_role
from scoreportal.models import append_only_tables
from scores.constants import Endpoint
from scores.core.cpf import Cpf
from scores.models import (
    Consultation,
    CreditProfileCorrection,
    ScorecardEvent,
    StoredScorecard,
)
from scores.services import consumer_request_register

PROJECT = Path(__file__).resolve().parents[2]
APPEND_ONLY_TABLES = [
    "accounts_keylifecycleevent",
    "audit_auditexportdownload",
    "audit_usagesummaryrefresh",
    "scores_auditexport",
    "scores_consultation",
    "scores_consumerrequestevent",
    "scores_cpfreportrun",
    "scores_creditprofilecorrection",
    "scores_scorecardevent",
    "scores_storedscorecard",
]


def execute(sql, params=None, using="default"):
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def one_row_each(api_key, admin_user):
    """A row in every append-only table, written by the serving role (INSERT it may), old
    enough for prune_audit: table -> id."""
    from audit.services.records import audit_export_record, cpf_report_record

    old = timezone.now() - timedelta(days=AUDIT_RETENTION_MIN_DAYS + 30)
    consultation = Consultation.objects.create(
        occurred_at=old,
        request_id=uuid.uuid4(),
        endpoint=Endpoint.SCORE,
        outcome="invalid_cpf",
        http_status=400,
        latency_ms=3,
    )
    export = audit_export_record(actor=admin_user, filters={}, row_count=1)
    download = AuditExportDownload.objects.create(
        export=export, actor=admin_user, actor_name=admin_user.username
    )
    run = cpf_report_record(
        actor=admin_user,
        cpf=Cpf.parse("529.982.247-25"),
        period_start=timezone.localdate(),
        period_end=timezone.localdate(),
        output=CpfReportRun.Output.PAGE,
        row_count=0,
    )
    event = KeyLifecycleEvent.objects.get().pk  # the key's issue
    stored = StoredScorecard.objects.create(
        version="2099.1",
        document="{}",
        file_name="x.json",
        file_sha256="0" * 64,
        uploaded_by=admin_user,
    )
    step = ScorecardEvent.objects.create(action="uploaded", version="2099.1", actor=admin_user)
    consumer_request = consumer_request_register(
        cpf=Cpf.parse("529.982.247-25"), kind="suspend", channel="phone", actor="test"
    )
    correction = CreditProfileCorrection.objects.create(
        cpf_hash="0" * 64,
        cpf_masked="***.982.247-**",
        profile_version=2,
        characteristics=["protests"],
        protocol="2026-0042",
        reason="test",
        actor_name="test",
    )
    refresh = UsageSummaryRefresh.objects.create(
        actor=admin_user, actor_name="admin", days=0, up_to_date=True
    )
    return {
        "scores_creditprofilecorrection": correction.pk,
        "audit_usagesummaryrefresh": refresh.pk,
        "scores_storedscorecard": stored.pk,
        "scores_scorecardevent": step.pk,
        "scores_consumerrequestevent": consumer_request.events.get().pk,
        "scores_consultation": consultation.pk,
        "scores_auditexport": export.pk,
        "audit_auditexportdownload": download.pk,
        "scores_cpfreportrun": run.pk,
        "accounts_keylifecycleevent": event,
    }


def test_if_the_suite_connects_then_it_is_as_the_serving_role_which_owns_nothing(
    db, database_roles
):
    [(user, superuser, owned)] = execute(
        "SELECT current_user, rolsuper, (SELECT count(*) FROM pg_class"
        " WHERE relowner = current_user::regrole) FROM pg_roles WHERE rolname = current_user"
    )

    assert user == database_roles.serving["USER"] != database_roles.owner["USER"]
    assert (superuser, owned) == (False, 0)


# ---------------------------------------------------------------------------------------
# What the serving role may not do to an append-only record
# ---------------------------------------------------------------------------------------
ATTACKS = [
    pytest.param("UPDATE {table} SET id = id WHERE id = %s", "permission denied", id="update"),
    pytest.param("DELETE FROM {table} WHERE id = %s", "permission denied", id="delete"),
    pytest.param("TRUNCATE {table}", "permission denied", id="truncate"),
    pytest.param(
        "ALTER TABLE {table} DISABLE TRIGGER USER", "must be owner", id="disable-triggers"
    ),
    pytest.param("ALTER TABLE {table} DISABLE TRIGGER ALL", "must be owner", id="disable-all"),
    pytest.param("DROP TABLE {table}", "must be owner", id="drop"),
    pytest.param("ALTER TABLE {table} RENAME TO {table}_gone", "must be owner", id="rename"),
    pytest.param("ALTER TABLE {table} OWNER TO CURRENT_USER", "must be owner", id="take-over"),
]


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize(("statement", "refusal"), ATTACKS)
def test_if_the_serving_role_changes_an_append_only_table_then_postgres_refuses(
    one_row_each, table, statement, refusal
):
    row = one_row_each[table]

    with pytest.raises(DatabaseError, match=f"{refusal}.*{table}"), transaction.atomic():
        execute(statement.format(table=table), [row] if "%s" in statement else None)

    assert execute(f"SELECT count(*) FROM {table} WHERE id = %s", [row]) == [(1,)]  # noqa: S608
    triggers = execute(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass"
        " AND NOT tgisinternal",
        [table],
    )
    assert triggers
    assert {enabled for _, enabled in triggers} == {"O"}  # fire as they always did


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        # The other ways round the triggers: replication mode, a neutered trigger function,
        # a table of one's own.
        pytest.param(
            "SET session_replication_role = replica",
            'permission denied to set parameter "session_replication_role"',
            id="replication-role",
        ),
        pytest.param(
            "CREATE OR REPLACE FUNCTION scores_audit_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
            # Creating in the schema is checked first; the owner's function comes next.
            "permission denied for schema public|must be owner of function",
            id="replace-trigger-function",
        ),
        pytest.param(
            "DROP FUNCTION accounts_lifecycle_append_only() CASCADE",
            "must be owner of function accounts_lifecycle_append_only",
            id="drop-trigger-function",
        ),
        pytest.param(
            "CREATE TABLE scores_consultation_copy (id bigint)",
            "permission denied for schema public",
            id="create-table",
        ),
    ],
)
def test_if_the_serving_role_tries_the_triggers_way_round_then_postgres_refuses(
    db, statement, refusal
):
    with pytest.raises(DatabaseError, match=refusal), transaction.atomic():
        execute(statement)


def test_if_the_serving_role_sets_the_prune_switch_then_old_rows_still_cannot_go(one_row_each):
    row = one_row_each["scores_consultation"]  # past the triggers' floor

    with transaction.atomic():
        execute("SET LOCAL scoreportal.audit_prune = 'on'")
        with (
            pytest.raises(DatabaseError, match="permission denied for table scores_consultation"),
            transaction.atomic(),
        ):
            execute("DELETE FROM scores_consultation WHERE id = %s", [row])

    assert Consultation.objects.filter(pk=row).exists()


def test_if_prune_audit_runs_as_the_serving_role_then_it_is_refused_and_says_why(
    one_row_each, settings, database_roles
):
    from scoreportal.lambda_tasks import prune_audit

    settings.AUDIT_RETENTION_DAYS = AUDIT_RETENTION_MIN_DAYS
    serving = database_roles.serving["USER"]

    with pytest.raises(CommandError) as refused:
        call_command("prune_audit", stdout=StringIO())
    with pytest.raises(CommandError):
        prune_audit({"source": "aws.events"}, None)  # the serving function's, were it scheduled

    assert str(refused.value) == (
        "prune_audit runs as the schema's owner (on AWS, the ops function): role "
        f"{serving} has no DELETE privilege on scores_consultation, audit_auditexportdownload, "
        "scores_auditexport, scores_cpfreportrun, audit_usagesummaryrefresh."
    )
    assert Consultation.objects.filter(pk=one_row_each["scores_consultation"]).exists()


def test_if_prune_audit_runs_as_the_owner_then_the_same_rows_go(
    connected_as_owner, one_row_each, settings
):
    settings.AUDIT_RETENTION_DAYS = AUDIT_RETENTION_MIN_DAYS
    out = StringIO()

    call_command("prune_audit", stdout=out)

    assert not Consultation.objects.filter(pk=one_row_each["scores_consultation"]).exists()
    assert "Deleted 1 audit rows" in out.getvalue()


# ---------------------------------------------------------------------------------------
# grant_serving_role: what it gives, again and again, and to tables made after it ran
# ---------------------------------------------------------------------------------------
OWNER = "owner"  # the suite's alias of the schema's owner (scoreportal/settings_test.py)


def serving_privileges(role, table):
    """The privileges `role` has on `table`, as the owner's connection sees them now."""
    kinds = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    [row] = execute(
        "SELECT " + ", ".join(f"has_table_privilege(%s, %s, '{kind}')" for kind in kinds),
        [value for _ in kinds for value in (role, table)],
        using=OWNER,
    )
    return {kind for kind, allowed in zip(kinds, row, strict=True) if allowed}


def access_control_lists():
    """Every grant in the database, as the catalogs keep them."""
    return execute(
        "SELECT 'table ' || relname, relacl::text FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S')"
        " UNION ALL SELECT 'schema', nspacl::text FROM pg_namespace WHERE nspname = 'public'"
        " UNION ALL SELECT 'database', datacl::text FROM pg_database"
        " WHERE datname = current_database()"
        " UNION ALL SELECT 'default ' || defaclobjtype::text, defaclacl::text FROM pg_default_acl"
        " ORDER BY 1",
        using=OWNER,
    )


def grant_command(role):
    out = StringIO()
    call_command("grant_serving_role", "--role", role, "--database", OWNER, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(databases=["default", OWNER])
def test_if_grant_serving_role_runs_again_then_every_grant_is_as_it_was(database_roles):
    serving = database_roles.serving["USER"]
    before = access_control_lists()

    first, second = grant_command(serving), grant_command(serving)

    assert access_control_lists() == before  # the suite's set-up ran it already
    assert first == second
    assert (
        f"{serving}: SELECT, INSERT on {len(APPEND_ONLY_TABLES)} append-only tables; SELECT on 1;"
        in first
    )
    for table in APPEND_ONLY_TABLES:
        assert serving_privileges(serving, table) == {"SELECT", "INSERT"}, table
    assert serving_privileges(serving, "django_migrations") == {"SELECT"}
    for table in ("scores_creditprofile", "accounts_apikey", "django_session"):
        assert serving_privileges(serving, table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    [(may_connect, may_create_temporary, may_create_in_public)] = execute(
        "SELECT has_database_privilege(%s, current_database(), 'CONNECT'),"
        " has_database_privilege(%s, current_database(), 'TEMPORARY'),"
        " has_schema_privilege(%s, 'public', 'CREATE')",
        [serving] * 3,
        using=OWNER,
    )
    assert (may_connect, may_create_temporary, may_create_in_public) == (True, True, False)


@pytest.mark.django_db(databases=["default", OWNER])
def test_if_a_migration_adds_a_table_then_it_has_the_least_until_the_grants_are_repaired(
    database_roles,
):
    serving = database_roles.serving["USER"]
    execute(
        "CREATE TABLE scores_probe (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)",
        using=OWNER,
    )
    # Before the grants run, the default privileges: what an append-only record may have.
    assert serving_privileges(serving, "scores_probe") == {"SELECT", "INSERT"}
    [(sequence_usage,)] = execute(
        "SELECT has_sequence_privilege(%s, 'scores_probe_id_seq', 'USAGE')", [serving], using=OWNER
    )
    assert sequence_usage

    grant_command(serving)
    grant_command(serving)

    assert serving_privileges(serving, "scores_probe") == {"SELECT", "INSERT", "UPDATE", "DELETE"}


@pytest.mark.django_db(databases=["default", OWNER])
def test_if_a_new_append_only_table_is_granted_then_it_gets_select_and_insert_only(
    database_roles,
):
    serving = database_roles.serving["USER"]
    execute("CREATE TABLE scores_probe_record (id bigint)", using=OWNER)
    execute(f"GRANT ALL ON scores_probe_record TO {serving}", using=OWNER)  # too much

    with connections[OWNER].cursor() as cursor:
        grants = grant_serving_role(
            cursor, serving, append_only=[*append_only_tables(), "scores_probe_record"]
        )

    assert grants.append_only == len(APPEND_ONLY_TABLES) + 1
    assert serving_privileges(serving, "scores_probe_record") == {"SELECT", "INSERT"}


@pytest.mark.django_db(databases=["default", OWNER])
@pytest.mark.parametrize(
    ("role", "refusal"),
    [
        pytest.param("owner", "it is the owner itself", id="the-owner"),
        pytest.param("superuser", "it is a superuser", id="a-superuser"),
        pytest.param("scoreportal_nobody", "does not exist", id="unknown"),
        pytest.param("Robert'); DROP TABLE x;--", "is not a role name", id="not-a-name"),
    ],
)
def test_if_the_role_cannot_serve_then_grant_serving_role_refuses_and_changes_nothing(
    database_roles, role, refusal
):
    if role == "owner":
        role = database_roles.owner["USER"]
    elif role == "superuser":
        [(role,)] = execute("SELECT min(rolname) FROM pg_roles WHERE rolsuper", using=OWNER)
    before = access_control_lists()

    with pytest.raises(CommandError, match=refusal):
        grant_command(role)

    assert access_control_lists() == before


def test_if_the_append_only_records_are_listed_then_they_are_the_tables_with_the_triggers(db):
    guarded = execute(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"
        " AND p.proname LIKE '%%append_only' AND t.tgtype & 32 = 32"  # BEFORE TRUNCATE
        " AND NOT c.relispartition"  # a partition has its table's triggers (test_partitions)
        " ORDER BY 1"
    )

    assert append_only_tables() == [name for (name,) in guarded] == APPEND_ONLY_TABLES


# ---------------------------------------------------------------------------------------
# ensure_database_roles, then migrate and grant_serving_role: the deploy's ops steps, on a
# cluster of the test's own, as a master user with RDS's rights (no superuser), against a
# database that master migrated before the roles existed
# ---------------------------------------------------------------------------------------
MASTER, OWNER_ROLE, SERVING_ROLE = "master", "app_owner", "app_serving"
PASSWORDS = {MASTER: "master-password-1", OWNER_ROLE: "owner-pw-1", SERVING_ROLE: "serve-pw-1"}


def manage(*args, urls, **extra):
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE")},
        "DJANGO_SETTINGS_MODULE": "scoreportal.settings",
        "DATABASE_URL": urls[OWNER_ROLE],
        "DATABASE_ADMIN_URL": urls[MASTER],
        "DATABASE_SERVING_URL": urls[SERVING_ROLE],
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def rds_like_cluster():
    """A cluster where passwords count (SCRAM) for every role but the test's superuser, and
    a database owned by a master user that may create roles and databases, not more."""
    with postgres_cluster() as cluster:
        hba = cluster.data / "pg_hba.conf"
        hba.write_text(
            "local all postgres trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        cluster.stop()
        cluster.start()
        with contextlib.closing(psycopg2.connect(cluster.url.rsplit("/", 1)[0] + "/postgres")) as c:
            c.autocommit = True
            with c.cursor() as cursor:
                cursor.execute(
                    f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB PASSWORD %s",
                    [PASSWORDS[MASTER]],
                )
                cursor.execute(f"CREATE DATABASE app OWNER {MASTER}")
        base = f"127.0.0.1:{cluster.port}/app"
        urls = {
            role: f"postgres://{role}:{password}@{base}" for role, password in PASSWORDS.items()
        }
        yield cluster, urls


def as_role(urls, role, sql, params=None):
    with contextlib.closing(psycopg2.connect(urls[role])) as c, c, c.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.mark.slow
def test_if_the_ops_steps_run_as_an_rds_master_then_the_owner_owns_and_the_serving_role_serves(
    rds_like_cluster,
):
    _, urls = rds_like_cluster
    # What the master user made before this change: migrations it ran itself.
    migrated_by_master = manage("migrate", "--no-input", urls={**urls, OWNER_ROLE: urls[MASTER]})
    assert migrated_by_master.returncode == 0, migrated_by_master.stderr

    steps = [
        manage("ensure_database_roles", urls=urls),
        manage("migrate", "--no-input", urls=urls),
        manage("grant_serving_role", urls=urls),
    ]

    assert [step.returncode for step in steps] == [0, 0, 0], [s.stderr for s in steps]
    assert f"{OWNER_ROLE}: created." in steps[0].stdout
    assert f"{SERVING_ROLE}: created." in steps[0].stdout
    assert "No migrations to apply." in steps[1].stdout
    assert (
        f"{SERVING_ROLE}: SELECT, INSERT on {len(APPEND_ONLY_TABLES)} append-only tables"
        in steps[2].stdout
    )
    output = "".join(step.stdout + step.stderr for step in steps)
    assert not [password for password in PASSWORDS.values() if password in output]
    owners = as_role(
        urls,
        SERVING_ROLE,  # logs in with its password: the verifier was made right
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace UNION SELECT pg_get_userbyid(datdba)"
        " FROM pg_database WHERE datname = current_database()",
    )
    assert owners == [(OWNER_ROLE,)]
    as_role(
        urls,
        SERVING_ROLE,
        "INSERT INTO scores_consultation (occurred_at, request_id, endpoint, purpose,"
        " api_key_prefix, cpf_hash, cpf_masked, outcome, http_status, band, model_version,"
        " source, latency_ms) VALUES (now(), gen_random_uuid(), 'scores', '', '', '', '',"
        " 'invalid_cpf', 400, '', '', '', 1)",
    )
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        as_role(urls, SERVING_ROLE, "UPDATE scores_consultation SET http_status = 200")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
        as_role(urls, OWNER_ROLE, "UPDATE scores_consultation SET http_status = 200")
    assert as_role(urls, MASTER, "SELECT count(*) FROM scores_consultation") == [(1,)]


@pytest.mark.slow
def test_if_ensure_database_roles_runs_again_with_new_passwords_then_it_sets_them(
    rds_like_cluster,
):
    _, urls = rds_like_cluster
    assert manage("ensure_database_roles", urls=urls).returncode == 0
    changed = {**urls, SERVING_ROLE: urls[SERVING_ROLE].replace("serve-pw-1", "serve-pw-2")}

    again = manage("ensure_database_roles", urls=changed)

    assert again.returncode == 0, again.stderr
    assert f"{OWNER_ROLE}: password set." in again.stdout
    assert f"{SERVING_ROLE}: password set." in again.stdout
    assert "(0 objects handed over)" in again.stdout
    assert as_role(changed, SERVING_ROLE, "SELECT current_user") == [(SERVING_ROLE,)]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        as_role(urls, SERVING_ROLE, "SELECT 1")


@pytest.mark.slow
def test_if_the_serving_role_is_made_a_member_of_the_owner_then_grant_serving_role_refuses(
    rds_like_cluster,
):
    cluster, urls = rds_like_cluster
    assert manage("ensure_database_roles", urls=urls).returncode == 0
    superuser = cluster.url.rsplit("/", 1)[0] + "/app"
    with contextlib.closing(psycopg2.connect(superuser)) as c, c, c.cursor() as cursor:
        cursor.execute(f"GRANT {OWNER_ROLE} TO {SERVING_ROLE}")
    try:
        refused = manage("grant_serving_role", urls=urls)
    finally:
        with contextlib.closing(psycopg2.connect(superuser)) as c, c, c.cursor() as cursor:
            cursor.execute(f"REVOKE {OWNER_ROLE} FROM {SERVING_ROLE}")

    assert refused.returncode == 1
    assert "it is a member of the owner, so it has the owner's rights" in refused.stderr
