"""The audit table's migrations keep its rows and its guarantee: rows written when keys were
referenced by primary key reference the same keys by prefix afterwards, and back. Migrated
as the schema's owner, as the deploy's ops function migrates."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from scores.models import Consultation

BEFORE_PREFIX = ("scores", "0005_audit_append_only_without_escape")
WITH_PREFIX = ("scores", "0006_audit_key_by_prefix")


def migrate_to(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def key_column_of(request_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_id FROM scores_consultation WHERE request_id = %s", [request_id]
        )
        return cursor.fetchone()[0]


def test_if_keys_move_to_prefixes_then_existing_audit_rows_keep_their_keys_and_their_guarantee(
    connected_as_owner, api_key, database_roles
):
    key = api_key[0]
    request_id = str(uuid.uuid4())
    try:
        migrate_to(BEFORE_PREFIX)
        with connection.cursor() as cursor:  # a row as the old schema wrote it
            cursor.execute(
                "INSERT INTO scores_consultation (occurred_at, request_id, organization_id,"
                " api_key_id, api_key_prefix, endpoint, purpose, cpf_hash, cpf_masked, outcome,"
                " http_status, band, model_version, source, latency_ms) VALUES (now(), %s, %s,"
                " %s, %s, 'scores', '', '', '', 'invalid_cpf', 400, '', '', '', 3)",
                [request_id, key.organization_id, key.pk, key.prefix],
            )
        assert key_column_of(request_id) == key.pk

        migrate_to(WITH_PREFIX)
        assert key_column_of(request_id) == key.prefix

        migrate_to(BEFORE_PREFIX)  # and back, for a rollback
        assert key_column_of(request_id) == key.pk
    finally:
        migrate_to(None)
        # As the deploy does after every migrate.
        call_command(
            "grant_serving_role", "--role", database_roles.serving["USER"], stdout=StringIO()
        )

    row = Consultation.objects.select_related("api_key").get(request_id=request_id)
    assert row.api_key == key
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Consultation.objects.filter(pk=row.pk).update(http_status=200)
