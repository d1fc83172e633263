"""The start page's panels: what each costs (at most one query per figure, never a read of
the audit trail), and who sees which."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.staff import StaffRole
from accounts.start_page import _BUILDERS, start_panels
from audit.services.usage import usage_summarize

pytestmark = pytest.mark.django_db

# Queries each panel may make: its counts, its aggregate, its lists.
BUDGET = {
    "keys": 3,  # expiring, unused, the latest changes
    "consultations": 2,  # the month's summary (today's inside it), today's coverage
    "audit-records": 2,  # the latest exports, the latest reports for a CPF
    "sign-ins": 2,  # failures, lockouts
    "credit-data": 3,  # the latest imports, the pending invalidations, the active version
    "stability": 3,  # the activation, the served bands by day from the summary, the scorecard
    "consumer-requests": 4,  # overdue, due today, suspensions in force, the latest requests
}


@pytest.fixture
def traffic(score_table):
    call_command("seed_demo", "--profiles", "20", "--force", stdout=StringIO())
    call_command("generate_audit_rows", "300", "--days", "10", "--force", stdout=StringIO())
    usage_summarize(now=timezone.now())


def request_of(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_if_a_superuser_opens_the_start_page_then_each_panel_stays_within_its_queries(
    traffic, staff_member
):
    request = request_of(staff_member("root", superuser=True))

    for _order, builder in _BUILDERS:
        with CaptureQueriesContext(connection) as queries:
            panel = builder(request)
        assert panel is not None
        assert len(queries) <= BUDGET[panel.panel_id], (panel.panel_id, queries.captured_queries)
        assert not any('"scores_consultation"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize(
    ("role", "panels"),
    [
        pytest.param(StaffRole.KEY_MANAGERS, ["keys"], id="key-managers"),
        pytest.param(
            StaffRole.AUDITORS,
            ["consultations", "audit-records", "sign-ins", "stability"],
            id="auditors",
        ),
        pytest.param(
            StaffRole.CREDIT_DATA_OPERATORS,
            ["credit-data", "stability", "consumer-requests"],
            id="operators",
        ),
        pytest.param(StaffRole.MODEL_APPROVERS, ["stability"], id="model-approvers"),
        pytest.param(StaffRole.CONSUMER_SERVICE, ["consumer-requests"], id="consumer-service"),
        pytest.param(None, [], id="no-role"),
    ],
)
def test_if_a_role_opens_the_start_page_then_it_sees_its_own_panels(
    score_table, staff_member, role, panels
):
    user = staff_member("rosa", role=role)

    assert [panel.panel_id for panel in start_panels(request_of(user))] == panels
