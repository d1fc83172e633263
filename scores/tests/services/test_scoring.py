"""scores.services.scoring: a score from the cache when fresh, else computed and cached."""

from __future__ import annotations

import pytest

from conftest import EXAMPLE_CPF, OTHER_EXAMPLE_CPF
from devstack.services import free_port
from scores import score_cache
from scores.constants import ScoreSource
from scores.cpf import Cpf
from scores.exceptions import NoCreditData
from scores.services import credit_profile_update, score_get

pytestmark = pytest.mark.usefixtures("score_table")


def test_if_the_score_is_not_cached_then_it_is_computed_from_the_profile_and_cached(
    make_profile, dynamodb_calls
):
    make_profile()

    served = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (served.score, served.band, served.source) == (975, "excellent", ScoreSource.COMPUTED)
    assert [reason.code for reason in served.reasons] == ["R07", "R08"]
    assert dynamodb_calls == ["GetItem", "PutItem"]


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

    assert dynamodb_calls == ["GetItem"]


def test_if_the_profile_changed_then_the_next_score_is_computed_from_the_new_one(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile()
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    with django_capture_on_commit_callbacks(execute=True):
        credit_profile_update(profile=profile, values={"active_negative_records": 2})
    served = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (served.source, served.score) == (ScoreSource.COMPUTED, 975 - 120)


def test_if_the_cache_is_unreachable_then_the_score_is_computed(make_profile, settings):
    make_profile()
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    first = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    second = score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    assert (first.source, second.source) == (ScoreSource.COMPUTED, ScoreSource.COMPUTED)
    assert score_cache.cool_down.active()
