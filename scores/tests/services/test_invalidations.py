"""Cache invalidation: generations (invalidate_scores --all), the outbox of profile changes
and its drains, conditional tombstones; against the local DynamoDB and Postgres."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from devstack.services import free_port
from scoreportal import aws_clients
from scores.cache import score_cache
from scores.cache.score_cache import CachedScore
from scores.core.cpf import Cpf
from scores.exceptions import ScoreCacheUnavailable
from scores.imports.profile_file import COLUMNS
from scores.models import CreditProfile, ImportSeenCpf, PendingInvalidation, ProfileImport
from scores.services import (
    credit_profile_update,
    credit_profiles_import,
    invalidations_drain,
    score_get,
    scores_invalidate,
    scores_invalidate_all,
)
from scores.tests.fixtures import EXAMPLE_CPF, GOOD_PROFILE, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

GOOD_ROW = ",".join(str(GOOD_PROFILE[name]) for name in COLUMNS[1:])
WEAK_ROW = "0.7200,2,45,1,0,0.8500,4,20,7"
OTHER_ROW = "0.9000,1,10,0,0,0.5000,2,60,2"


def csv_file(*rows):
    return StringIO("\n".join([",".join(COLUMNS), *rows]) + "\n")


def cached(**overrides):
    values = {
        "score": 742,
        "band": "excellent",
        "probability_of_default": Decimal("0.0123"),
        "reason_codes": ("R06",),
        "model_version": "2026.1",
        "profile_version": 1,
        "computed_at": datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    }
    return CachedScore(**{**values, **overrides})


def hash_of(cpf):
    from django.conf import settings

    return Cpf.parse(cpf).lookup_hash(settings.CPF_HASH_KEY)


def stored(dynamodb, table, cpf_hash):
    return dynamodb.get_item(TableName=table, Key={"pk": {"S": cpf_hash}}, ConsistentRead=True).get(
        "Item"
    )


def generated_cpfs(count, start=300_000):
    return [Cpf.from_base(f"{n:09d}") for n in range(start, start + count)]


def imports_at_once(files, *, chunk_size, new_import_id):
    """Run one import per file, each on a thread of its own (its own connection), started
    together; their reports by the files' names."""
    reports = {}
    start = threading.Barrier(len(files))
    import_ids = {name: new_import_id() for name in files}

    def run(name):
        start.wait()
        try:
            reports[name] = credit_profiles_import(
                file=files[name], chunk_size=chunk_size, import_id=import_ids[name]
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports


class CacheOutage:
    """Point the cache at a loopback port nobody listens on (`begin`), and back at the
    local DynamoDB (`end`), where the test's table still is."""

    def __init__(self, settings):
        self.settings = settings
        self.endpoint = settings.DYNAMODB_ENDPOINT_URL

    def begin(self):
        self.settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    def end(self):
        self.settings.DYNAMODB_ENDPOINT_URL = self.endpoint
        score_cache.cool_down.reset()


@pytest.fixture
def outage(settings):
    return CacheOutage(settings)


# ---------------------------------------------------------------------------------------
# Generations: every cached score a miss in one call, no round trip added to a read
# ---------------------------------------------------------------------------------------
def test_if_every_score_is_invalidated_then_each_cached_one_is_a_miss_after_one_call(
    dynamodb_calls,
):
    hashes = [f"{n:064x}" for n in range(300)]
    assert score_cache.put_many({h: cached() for h in hashes}, generation=0)
    assert set(score_cache.get_many(hashes, model_version="2026.1").values()) == {cached()}
    dynamodb_calls.clear()

    started = time.perf_counter()
    out = StringIO()
    call_command("invalidate_scores", "--all", stdout=out)
    elapsed = time.perf_counter() - started

    assert dynamodb_calls == ["UpdateItem"]  # no scan, no delete: constant at any size
    assert elapsed < 1.0
    assert "cache generation 1" in out.getvalue()
    assert set(score_cache.get_many(hashes, model_version="2026.1").values()) == {None}


def test_if_every_score_is_invalidated_then_the_next_request_computes_and_caches_it_anew(
    make_profile, dynamodb_calls, django_assert_num_queries
):
    make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "cache"

    assert scores_invalidate_all() == 1
    dynamodb_calls.clear()

    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "computed"
    with django_assert_num_queries(0):
        again = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    assert again.source == "cache"
    # Each read is one BatchGetItem, the generation in it: the same round trips as before.
    assert dynamodb_calls == ["BatchGetItem", "PutItem", "BatchGetItem"]


def test_if_a_score_computed_before_invalidate_all_is_put_after_it_then_it_is_a_miss():
    read = score_cache.read(["a" * 64], model_version="2026.1")
    assert read.generation == 0
    score_cache.invalidate_all()

    score_cache.put("a" * 64, cached(), generation=read.generation)

    assert score_cache.get("a" * 64, model_version="2026.1") is None


def test_if_an_item_predates_generations_then_it_counts_as_generation_0(dynamodb, score_table):
    item = score_cache._score_item("a" * 64, cached(), 0)
    del item["generation"]
    dynamodb.put_item(TableName=score_table, Item=item)

    assert score_cache.get("a" * 64, model_version="2026.1") == cached()
    score_cache.invalidate_all()
    assert score_cache.get("a" * 64, model_version="2026.1") is None


def test_if_the_cache_is_unreachable_then_invalidate_all_fails_loudly(outage):
    outage.begin()
    with pytest.raises(ScoreCacheUnavailable):
        scores_invalidate_all()
    with pytest.raises(CommandError, match="nothing was invalidated"):
        call_command("invalidate_scores", "--all", stdout=StringIO())


def test_if_the_scorecard_version_changes_then_scores_of_the_old_one_are_misses(
    make_profile, settings
):
    make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    cpf_hash = hash_of(EXAMPLE_CPF)
    assert score_cache.get(cpf_hash, model_version="2026.1") is not None

    # What a switch of SCORECARD_VERSION does to every item: another version, a miss.
    assert score_cache.get(cpf_hash, model_version="2026.2") is None


# ---------------------------------------------------------------------------------------
# The outbox: every write path records its invalidations with the change
# ---------------------------------------------------------------------------------------
def test_if_the_admin_edit_commits_but_the_process_dies_before_invalidating_then_a_drain_does(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    with django_capture_on_commit_callbacks(execute=False):  # the process dies here
        credit_profile_update(
            profile=profile,
            values={"protests": 2},
            protocol="2026-0001",
            reason="Creditor's correction",
        )

    assert PendingInvalidation.objects.get().profile_version == 2
    out = StringIO()
    call_command("invalidate_scores", "--pending", stdout=out)
    assert "1 pending invalidations drained, 0 left." in out.getvalue()
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "computed"


def test_if_an_admin_edit_finds_the_cache_down_then_the_invalidation_waits_for_the_schedule(
    make_profile, outage, django_capture_on_commit_callbacks, score_table, dynamodb
):
    profile = make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    outage.begin()

    with django_capture_on_commit_callbacks(execute=True):
        credit_profile_update(
            profile=profile,
            values={"protests": 2},
            protocol="2026-0001",
            reason="Creditor's correction",
        )

    assert PendingInvalidation.objects.filter(cpf_hash=profile.cpf_hash).exists()
    outage.end()
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is not None  # stale
    from scoreportal.lambda_tasks import drain_score_invalidations

    drain_score_invalidations({"source": "aws.events"}, None)

    assert not PendingInvalidation.objects.exists()
    assert stored(dynamodb, score_table, profile.cpf_hash)["profile_version"] == {"N": "2"}
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "computed"


def test_if_an_import_crashes_between_a_chunk_commit_and_its_invalidation_then_nothing_is_lost(
    make_profile, score_table, dynamodb, new_import_id
):
    make_profile(EXAMPLE_CPF)
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    class Crash(Exception):
        pass

    def crash(rows):
        raise Crash  # called once the chunk has committed, before its invalidations

    with pytest.raises(Crash):
        credit_profiles_import(
            file=csv_file(f"{EXAMPLE_CPF},{WEAK_ROW}"), on_progress=crash, import_id=new_import_id()
        )

    cpf_hash = hash_of(EXAMPLE_CPF)
    assert CreditProfile.objects.get().version == 2
    assert score_cache.get(cpf_hash, model_version="2026.1") is not None  # stale, for now
    assert PendingInvalidation.objects.get().profile_version == 2

    # Running the import again changes nothing, but drains what the crash left first.
    report = credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{WEAK_ROW}"), import_id=new_import_id()
    )

    assert (report.updated, report.unchanged) == (0, 1)
    assert score_cache.get(cpf_hash, model_version="2026.1") is None
    assert not PendingInvalidation.objects.exists()
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).score == 480


def test_if_dynamodb_is_down_during_an_import_then_the_next_import_invalidates(
    tmp_path, make_profile, outage
):
    cpfs = generated_cpfs(30)
    for cpf in cpfs:
        make_profile(cpf.digits)
    hashes = [hash_of(cpf.digits) for cpf in cpfs]
    score_cache.put_many({h: cached() for h in hashes}, generation=0)
    outage.begin()
    path = tmp_path / "weak.csv"
    path.write_text(csv_file(*[f"{c.digits},{WEAK_ROW}" for c in cpfs]).getvalue())

    with pytest.raises(CommandError, match="30 changed profiles kept their cached score"):
        call_command(
            "import_profiles", str(path), "--chunk-size", "10", stdout=StringIO(), stderr=StringIO()
        )
    assert PendingInvalidation.objects.count() == 30
    assert set(score_cache.get_many(hashes, model_version="2026.1").values()) == {None}  # down

    outage.end()
    assert set(score_cache.get_many(hashes, model_version="2026.1").values()) == {cached()}
    out = StringIO()
    call_command("import_profiles", str(path), stdout=out, stderr=StringIO())

    assert "0 updated, 30 unchanged" in out.getvalue()
    assert not PendingInvalidation.objects.exists()
    assert set(score_cache.get_many(hashes, model_version="2026.1").values()) == {None}


def test_if_an_invalidation_is_pending_then_a_newer_change_replaces_its_version(
    make_profile, outage, score_table, dynamodb, new_import_id
):
    make_profile(EXAMPLE_CPF)
    outage.begin()
    credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{WEAK_ROW}"), import_id=new_import_id()
    )  # v2, not drained
    credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{OTHER_ROW}"), import_id=new_import_id()
    )  # v3, not drained
    outage.end()

    assert PendingInvalidation.objects.get().profile_version == 3
    assert invalidations_drain().drained == 1
    assert stored(dynamodb, score_table, hash_of(EXAMPLE_CPF))["profile_version"] == {"N": "3"}


def test_if_a_tombstone_of_an_older_version_comes_late_then_the_newer_item_stays(
    score_table, dynamodb
):
    score_cache.put("a" * 64, cached(profile_version=3), generation=0)

    assert score_cache.invalidate({"a" * 64: 2}) == 0  # late: the profile is at 3 already

    assert score_cache.get("a" * 64, model_version="2026.1") == cached(profile_version=3)
    score_cache.invalidate({"a" * 64: 4})
    assert stored(dynamodb, score_table, "a" * 64)["profile_version"] == {"N": "4"}
    score_cache.invalidate({"a" * 64: 3})
    assert stored(dynamodb, score_table, "a" * 64)["profile_version"] == {"N": "4"}


def test_if_the_cpfs_of_a_file_are_invalidated_then_only_their_scores_are_misses(
    tmp_path, make_profile
):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        score_get(cpf=Cpf.parse(cpf))
    path = tmp_path / "cpfs.txt"
    path.write_text(f"{EXAMPLE_CPF}\n\n12345678900\n", encoding="utf-8")
    out, err = StringIO(), StringIO()

    call_command("invalidate_scores", "--cpf-file", str(path), stdout=out, stderr=err)

    assert "line 3: CPF check digits do not match." in err.getvalue()
    assert "12345678900" not in err.getvalue()
    assert "1 CPFs read, 1 invalid; 1 cached scores invalidated." in out.getvalue()
    assert score_cache.get(hash_of(EXAMPLE_CPF), model_version="2026.1") is None
    assert score_cache.get(hash_of(OTHER_EXAMPLE_CPF), model_version="2026.1") is not None
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "computed"


def test_if_a_selection_of_profiles_is_invalidated_then_their_scores_are_misses(make_profile):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        score_get(cpf=Cpf.parse(cpf))

    report = scores_invalidate(profiles=CreditProfile.objects.filter(cpf_hash=hash_of(EXAMPLE_CPF)))

    assert (report.drained, report.failed) == (1, 0)
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).source == "computed"
    assert score_get(cpf=Cpf.parse(OTHER_EXAMPLE_CPF)).source == "cache"


def test_if_a_selection_is_invalidated_from_a_request_while_the_cache_is_down_then_all_wait(
    make_profile, outage, score_table
):
    """The admin's action: every selected profile is recorded before any drain; the drain
    uses the request path's client (sub-second timeouts), not the patient one, and stops at
    the first failure instead of trying each batch of 25; all 30 wait for the schedule."""
    for cpf in generated_cpfs(30):
        make_profile(cpf.digits)
    outage.begin()
    fast, patient = aws_clients.dynamodb(), aws_clients.dynamodb_bulk()

    with aws_clients.sent_requests(fast) as sent_fast, aws_clients.sent_requests(patient) as slow:
        report = scores_invalidate(
            profiles=CreditProfile.objects.all(), patient=False, max_seconds=10
        )

    assert (report.drained, report.failed) == (0, 30)
    assert PendingInvalidation.objects.count() == 30
    assert slow == []
    assert set(sent_fast) == {"BatchWriteItem"}
    assert len(sent_fast) <= 2  # one call: its two attempts


def test_if_the_drain_is_asked_with_no_option_then_the_command_refuses():
    with pytest.raises(CommandError, match="one of the arguments"):
        call_command("invalidate_scores", stdout=StringIO())


# ---------------------------------------------------------------------------------------
# Imports: duplicates without memory, concurrency
# ---------------------------------------------------------------------------------------
def test_if_a_cpf_repeats_in_a_later_chunk_then_the_error_names_its_first_line(db, new_import_id):
    cpfs = generated_cpfs(12)
    rows = [f"{c.digits},{GOOD_ROW}" for c in cpfs] + [f"{cpfs[1].formatted},{WEAK_ROW}"]

    report = credit_profiles_import(file=csv_file(*rows), chunk_size=5, import_id=new_import_id())

    assert [(e.line, e.message) for e in report.errors] == [(14, "cpf: same CPF as line 3")]
    assert (report.rows, report.created) == (13, 12)
    assert CreditProfile.objects.get(cpf_hash=hash_of(cpfs[1].digits)).version == 1


def test_if_a_dry_run_finds_a_repeated_cpf_then_it_reports_it_and_writes_nothing(db, new_import_id):
    rows = [f"{EXAMPLE_CPF},{GOOD_ROW}", f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}", f"{EXAMPLE_CPF},x"]
    rows.append(f"{EXAMPLE_CPF},{WEAK_ROW}")

    report = credit_profiles_import(
        file=csv_file(*rows), dry_run=True, chunk_size=1, import_id=new_import_id()
    )

    assert [str(e) for e in report.errors][-1] == "line 5: cpf: same CPF as line 2"
    assert not CreditProfile.objects.exists()
    assert not ImportSeenCpf.objects.exists()  # the CPFs it read went with the import


def test_if_a_file_comes_in_parts_then_a_cpf_repeated_across_them_names_its_first_line(db):
    cpfs = generated_cpfs(3)
    record = ProfileImport.objects.create(
        source=ProfileImport.Source.ADMIN,
        actor_name="otto",
        file_name="partes.csv",
        file_size=1,
        status=ProfileImport.Status.IMPORTING,
    )
    first = credit_profiles_import(
        file=csv_file(*[f"{c.digits},{GOOD_ROW}" for c in cpfs]), import_id=record.pk, in_parts=True
    )
    # A part read again (a retried step) finds its CPFs at their own lines: not repeats.
    again = credit_profiles_import(
        file=csv_file("", f"{cpfs[1].digits},{GOOD_ROW}"), import_id=record.pk, in_parts=True
    )

    # The next part: the lines the first part read come as blank lines (numbering kept).
    second = credit_profiles_import(
        file=csv_file("", "", "", f"{cpfs[1].digits},{WEAK_ROW}"),
        import_id=record.pk,
        in_parts=True,
    )

    seen = ImportSeenCpf.objects.filter(profile_import=record)
    assert (first.created, seen.count()) == (3, 3)
    assert (again.errors, again.unchanged) == ([], 1)
    assert [str(e) for e in second.errors] == ["line 5: cpf: same CPF as line 3"]
    assert second.updated == 0


def test_if_a_file_is_imported_whole_then_the_cpfs_it_read_are_forgotten_when_done(
    new_import_id,
):
    cpfs = generated_cpfs(3)
    import_id = new_import_id()

    report = credit_profiles_import(
        file=csv_file(*[f"{c.digits},{GOOD_ROW}" for c in [*cpfs, cpfs[0]]]), import_id=import_id
    )

    assert report.created == 3
    assert [str(e) for e in report.errors] == ["line 5: cpf: same CPF as line 2"]
    assert not ImportSeenCpf.objects.filter(profile_import_id=import_id).exists()


@pytest.mark.django_db(transaction=True)
def test_if_two_imports_of_the_same_cpfs_run_at_once_then_the_cache_ends_at_the_last_version(
    score_table, dynamodb, new_import_id
):
    cpfs = generated_cpfs(200, start=400_000)
    credit_profiles_import(
        file=csv_file(*[f"{c.digits},{GOOD_ROW}" for c in cpfs]), import_id=new_import_id()
    )
    hashes = [hash_of(c.digits) for c in cpfs]
    score_cache.put_many({h: cached() for h in hashes}, generation=0)
    files = {
        "weak": csv_file(*[f"{c.digits},{WEAK_ROW}" for c in cpfs]),
        "other": csv_file(*[f"{c.digits},{OTHER_ROW}" for c in reversed(cpfs)]),
    }
    reports = imports_at_once(files, chunk_size=20, new_import_id=new_import_id)

    assert sum(r.updated for r in reports.values()) == 400  # each changed each profile once
    assert sum(r.invalidation_failures for r in reports.values()) == 0
    assert not PendingInvalidation.objects.exists()
    versions = dict(CreditProfile.objects.values_list("cpf_hash", "version"))
    assert set(versions.values()) == {3}
    tombstones = [stored(dynamodb, score_table, h) for h in hashes]
    assert {item["profile_version"]["N"] for item in tombstones} == {"3"}
    assert all("score" not in item for item in tombstones)


@pytest.mark.django_db(transaction=True)
def test_if_two_imports_create_the_same_new_cpfs_at_once_then_one_creates_the_other_updates(
    new_import_id,
):
    cpfs = generated_cpfs(300, start=500_000)
    files = {
        "weak": csv_file(*[f"{c.digits},{WEAK_ROW}" for c in cpfs]),
        "other": csv_file(*[f"{c.digits},{OTHER_ROW}" for c in cpfs]),
    }
    reports = imports_at_once(files, chunk_size=50, new_import_id=new_import_id)

    assert sum(r.created for r in reports.values()) == 300
    assert sum(r.updated for r in reports.values()) == 300
    assert set(CreditProfile.objects.values_list("version", flat=True)) == {2}


def test_if_either_stage_is_deployed_then_the_drain_is_scheduled_with_the_other_jobs():
    stages = json.loads((Path(__file__).resolve().parents[3] / "zappa_settings.json").read_text())
    drain = {
        "function": "scoreportal.lambda_tasks.drain_score_invalidations",
        "expression": "rate(5 minutes)",
    }

    for stage in ("dev", "production"):
        functions = [event["function"] for event in stages[stage]["events"]]
        assert drain in stages[stage]["events"]
        assert "scoreportal.lambda_tasks.summarize_usage" in functions
        # prune_audit is the stage's too, on its ops function: it runs as the schema's owner.
        ops_functions = [event["function"] for event in stages[f"{stage}_ops"]["events"]]
        assert "scoreportal.lambda_tasks.prune_audit" in ops_functions
