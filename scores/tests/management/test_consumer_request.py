"""manage.py consumer_request: the admin's registration and resolution, from the command
line, recorded the same way."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from scores.models import ConsumerRequest, ConsumerRequestAction, ConsumerRequestState
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]


@pytest.fixture(autouse=True)
def _in_english():
    """The refusals' messages are matched in English (the staff's language is pt-BR)."""
    with translation.override("en"):
        yield


def run(*args):
    out = StringIO()
    call_command("consumer_request", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def clerk(staff_member):
    return staff_member("carla")


def test_if_a_dispute_is_registered_and_resolved_then_both_are_recorded_in_the_user_s_name(
    make_profile, clerk
):
    make_profile()

    registered = run(
        "dispute", EXAMPLE_CPF, "--channel", "phone", "--protocol", "ATD-77",
        "--user", "carla", "--field", "protests", "--field", "credit_utilization",
    )  # fmt: skip
    request = ConsumerRequest.objects.get()
    resolved = run(
        "resolve", str(request.pk), "--user", "carla", "--outcome", "confirmed",
        "--reason", "The creditor confirmed.",
    )  # fmt: skip

    assert "***.982.247-**" in registered
    assert "ATD-77" in registered
    assert EXAMPLE_CPF not in registered
    assert "52998224725" not in registered
    assert "resolved" in resolved
    request.refresh_from_db()
    assert (request.state, request.disputed_fields, request.registered_by) == (
        ConsumerRequestState.RESOLVED,
        ["protests", "credit_utilization"],
        clerk,
    )
    assert [(event.action, event.actor) for event in request.events.all()] == [
        (ConsumerRequestAction.REGISTERED, clerk),
        (ConsumerRequestAction.RESOLVED, clerk),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["suspend", "123", "--channel", "web", "--user", "carla"], "CPF", id="bad-cpf"
        ),
        pytest.param(
            ["suspend", EXAMPLE_CPF, "--channel", "web", "--user", "nobody"],
            "No staff member",
            id="unknown-user",
        ),
        pytest.param(
            ["reopen", EXAMPLE_CPF, "--channel", "web", "--user", "carla"],
            "nothing to reopen",
            id="nothing-to-reopen",
        ),
        pytest.param(
            ["resolve", "999", "--user", "carla", "--outcome", "corrected", "--reason", "x"],
            "No request 999",
            id="unknown-request",
        ),
    ],
)
def test_if_a_request_cannot_be_taken_then_the_command_says_why_and_records_nothing(
    clerk, args, message
):
    with pytest.raises(CommandError, match=message):
        run(*args)

    assert not ConsumerRequest.objects.exists()
