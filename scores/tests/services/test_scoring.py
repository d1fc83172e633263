"""scores.services.scoring: a score from the cache when fresh, else computed and cached."""

from __future__ import annotations

import pytest

from devstack.services import free_port
from scoreportal.error_codes import ErrorCode
from scores.cache import score_cache
from scores.constants import ScoreSource
from scores.core.cpf import Cpf
from scores.exceptions import NoCreditData
from scores.services import ServedScore, credit_profile_update, score_get, scores_get
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")


def test_if_the_score_is_not_cached_then_it_is_computed_from_the_profile_and_cached(
    make_profile, dynamodb_calls
):
    make_profile()

    served = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (served.score, served.band, served.source) == (975, "excellent", ScoreSource.COMPUTED)
    assert [reason.code for reason in served.reasons] == ["R07", "R08"]
    # One score is read with BatchGetItem: its item and the cache's generation in one call.
    assert dynamodb_calls == ["BatchGetItem", "PutItem"]


def test_if_the_score_is_cached_then_the_profile_is_not_read(
    make_profile, django_assert_num_queries
):
    make_profile()
    first = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    with django_assert_num_queries(0):
        second = score_get(cpf=Cpf.parse("52998224725"))

    assert second.source == ScoreSource.CACHE
    assert (second.score, second.computed_at, second.reasons) == (
        first.score,
        first.computed_at,
        first.reasons,
    )


def test_if_there_is_no_profile_then_no_credit_data_is_raised_and_nothing_cached(
    db, dynamodb_calls
):
    with pytest.raises(NoCreditData):
        score_get(cpf=Cpf.parse(OTHER_EXAMPLE_CPF))

    assert dynamodb_calls == ["BatchGetItem"]


def test_if_the_profile_changed_then_the_next_score_is_computed_from_the_new_one(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    with django_capture_on_commit_callbacks(execute=True):
        credit_profile_update(
            profile=profile,
            values={"active_negative_records": 2},
            protocol="2026-0001",
            reason="Creditor's correction",
        )
    served = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (served.source, served.score) == (ScoreSource.COMPUTED, 975 - 120)


def test_if_the_cache_is_unreachable_then_the_score_is_computed(make_profile, settings):
    make_profile()
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    first = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    second = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (first.source, second.source) == (ScoreSource.COMPUTED, ScoreSource.COMPUTED)
    assert score_cache.cool_down.active()


def test_if_the_cache_was_cooling_down_when_scoring_began_then_the_score_is_not_written_to_it(
    make_profile, monotonic, dynamodb_calls
):
    make_profile()
    score_cache.cool_down.start(1.0)  # a DynamoDB call failed a moment ago

    def admit():  # the request's own DynamoDB call (the key's counter) outlasts the cool-down
        monotonic.advance(2.0)

    served = score_get(cpf=Cpf.parse(EXAMPLE_CPF), admit=admit)

    # A request meets at most one DynamoDB timeout: a write after the counter's would add one.
    assert served.source == ScoreSource.COMPUTED
    assert "PutItem" not in dynamodb_calls


# ---------------------------------------------------------------------------------------
# Many CPFs, and what runs beside the cache read
# ---------------------------------------------------------------------------------------
def test_if_many_cpfs_are_asked_then_each_distinct_one_is_looked_up_once(
    make_profile, dynamodb_calls, django_assert_num_queries
):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    unknown = Cpf.parse("390.533.447-05")
    cpfs = [Cpf.parse(EXAMPLE_CPF), unknown, Cpf.parse(OTHER_EXAMPLE_CPF), Cpf.parse(EXAMPLE_CPF)]

    with django_assert_num_queries(2):  # the profiles; their versions after the write
        served = scores_get(cpfs=cpfs)

    assert served[unknown] == ErrorCode.NO_CREDIT_DATA
    assert {score.source for score in served.values() if isinstance(score, ServedScore)} == {
        ScoreSource.COMPUTED
    }
    assert dynamodb_calls == ["BatchGetItem", "BatchWriteItem"]


def test_if_admit_refuses_then_nothing_is_scored_and_the_refusal_propagates(
    make_profile, django_assert_num_queries, dynamodb_calls
):
    make_profile()

    def refuse():
        raise RuntimeError("not now")

    with django_assert_num_queries(0), pytest.raises(RuntimeError, match="not now"):
        score_get(cpf=Cpf.parse(EXAMPLE_CPF), admit=refuse)

    assert dynamodb_calls == ["BatchGetItem"]  # the concurrent read ended before it propagated


def test_if_admit_runs_then_it_runs_on_this_thread_while_the_cache_is_read_on_another(
    make_profile,
):
    import threading

    make_profile()
    threads = []

    served = score_get(
        cpf=Cpf.parse(EXAMPLE_CPF), admit=lambda: threads.append(threading.current_thread())
    )

    assert threads == [threading.current_thread()]
    assert served.source == ScoreSource.COMPUTED


def test_if_a_profile_changes_while_a_batch_is_scored_then_its_stale_score_is_not_left_cached(
    make_profile, settings
):
    # Another instance corrects a profile right after this batch read it, and invalidates
    # its cache item before this batch's unconditional BatchWriteItem lands.
    from django.db import connection

    changed = make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    cpfs = [Cpf.parse(EXAMPLE_CPF), Cpf.parse(OTHER_EXAMPLE_CPF)]
    elsewhere = {"done": False}

    def change_after_the_profiles_are_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not elsewhere["done"] and 'FROM "scores_creditprofile"' in sql:
            elsewhere["done"] = True
            credit_profile_update(
                profile=changed,
                values={"active_negative_records": 2},
                protocol="2026-0001",
                reason="Creditor's correction",
            )
            score_cache.invalidate({changed.cpf_hash: 2})  # what its commit would trigger
        return result

    with connection.execute_wrapper(change_after_the_profiles_are_read):
        stale = scores_get(cpfs=cpfs)[cpfs[0]]

    assert isinstance(stale, ServedScore)
    assert (stale.score, elsewhere["done"]) == (975, True)  # computed from what was read
    assert score_cache.get(changed.cpf_hash, model_version="2026.1") is None
    assert score_get(cpf=cpfs[0]).score == 975 - 120
