"""Scorecard versions in the admin: the upload with every violation shown, the proposal and
its impact page, the four-eyes decision, the rollback, the CSV and the record, each for the
role that may, in pt-BR."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from conftest import sign_in
from scores.core.scorecard import SCORECARD_DIR
from scores.models import ScorecardEvent, ScorecardProposal, StoredScorecard
from scores.selectors import scorecard_active_version
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

SCORECARDS = reverse("admin:scores_scorecardversion_changelist")
UPLOAD = reverse("admin:scores_scorecardversion_upload")
PROPOSE = reverse("admin:scores_scorecardversion_propose")
ROLLBACK = reverse("admin:scores_scorecardversion_rollback")
RECORD = reverse("admin:scores_scorecardevent_changelist")


def proposal_url(pk, page="proposal"):
    return reverse(f"admin:scores_scorecardversion_{page}", args=[pk])


def document(**changes):
    data = json.loads((SCORECARD_DIR / "2026.2.json").read_text("utf-8"))
    data.update(changes)
    return data


def upload(client, data, name="v.json"):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, raw)}, follow=True)


@pytest.fixture
def operator(staff_member):
    return staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)


@pytest.fixture
def operator_client(operator):
    return sign_in(Client(), operator)


@pytest.fixture
def approver_client(staff_member):
    return sign_in(Client(), staff_member("vera", role=StaffRole.MODEL_APPROVERS))


@pytest.fixture
def proposed(operator_client, make_profile, django_capture_on_commit_callbacks):
    make_profile(EXAMPLE_CPF)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            PROPOSE, {"version": "2026.2", "reason": "atrasos recentes"}, follow=True
        )
    assert response.status_code == 200
    return ScorecardProposal.objects.get()


def test_if_an_operator_uploads_a_bad_file_then_every_problem_is_listed_in_portuguese(
    operator_client,
):
    bad = document(version="2027.1")
    bad["characteristics"][1]["bins"][2]["points"] = 90
    bad["characteristics"][4]["description"] = {"en": "Protested debts"}

    page = upload(operator_client, bad).content.decode()

    assert "O arquivo foi recusado: 2 problemas." in page
    assert "<code>characteristics[1].bins[2].points</code>" in page
    assert "Os pontos não podem subir quando o risco aumenta." in page
    assert "Precisa de um texto de motivo em pt-BR." in page
    assert not StoredScorecard.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x00\xff", id="binary"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"version": 1e999}', id="huge-number"),
        pytest.param(b"[" * 50_000, id="deep"),
        pytest.param(json.dumps({"characteristics": [{"bins": [None]}]}).encode(), id="nulls"),
    ],
)
def test_if_an_uploaded_file_is_garbage_then_the_page_says_so_never_500(operator_client, content):
    response = upload(operator_client, content)

    assert response.status_code == 200
    assert not StoredScorecard.objects.exists()


def test_if_an_operator_uploads_a_good_file_then_it_is_listed_and_can_be_proposed(operator_client):
    response = upload(operator_client, document(version="2027.1"))

    page = response.content.decode()
    assert "Scorecard 2027.1 armazenado. Agora você pode propô-lo." in page
    assert 'id="scorecard-2027.1"' in page
    assert 'id="propose-2027.1"' in page


def test_if_a_version_is_proposed_then_its_impact_page_shows_the_figures_and_no_approval(
    operator_client, proposed
):
    page = operator_client.get(proposal_url(proposed.pk)).content.decode()

    assert "Todos os perfis de crédito · 1 perfil" in page
    assert 'id="matrix-all"' in page
    assert "975,00 → 975,00" in page
    assert 'id="own-proposal-note"' in page

    response = operator_client.post(
        proposal_url(proposed.pk, "decide"), {"decision": "approve", "reason": ""}, follow=True
    )
    assert response.status_code == 403  # an operator holds no approver permission
    assert scorecard_active_version() == "2026.1"


def test_if_the_proposer_is_also_an_approver_then_self_approval_is_refused_with_a_message(
    staff_member, make_profile, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    both = staff_member("ana", role=StaffRole.CREDIT_DATA_OPERATORS)
    both.groups.add(Group.objects.get(name=StaffRole.MODEL_APPROVERS))
    client = sign_in(Client(), both)
    make_profile(EXAMPLE_CPF)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(PROPOSE, {"version": "2026.2", "reason": ""})
    proposal = ScorecardProposal.objects.get()

    page = client.post(
        proposal_url(proposal.pk, "decide"), {"decision": "approve", "reason": ""}, follow=True
    ).content.decode()

    assert "Você não pode aprovar nem recusar a sua própria proposta" in page
    assert scorecard_active_version() == "2026.1"


def test_if_an_approver_approves_then_the_version_is_active_and_the_record_shows_each_step(
    proposed, approver_client, client_with_key
):
    page = approver_client.post(
        proposal_url(proposed.pk, "decide"),
        {"decision": "approve", "reason": "validado"},
        follow=True,
    ).content.decode()

    assert "Aprovado: o scorecard 2026.2 está ativo a partir da próxima requisição." in page
    answer = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()
    assert answer["model_version"] == "2026.2"
    record = approver_client.get(RECORD).content.decode()
    for action in ("Proposto", "Impacto calculado", "Aprovado", "Ativado"):
        assert action in record


def test_if_an_approver_refuses_without_a_reason_then_it_is_asked_for(proposed, approver_client):
    page = approver_client.post(
        proposal_url(proposed.pk, "decide"), {"decision": "refuse", "reason": ""}, follow=True
    ).content.decode()

    assert "Informe um motivo." in page
    proposed.refresh_from_db()
    assert proposed.status == "pending"


def test_if_an_approver_rolls_back_then_it_is_confirmed_first_and_recorded(
    proposed, approver_client
):
    approver_client.post(proposal_url(proposed.pk, "decide"), {"decision": "approve"})

    question = approver_client.get(ROLLBACK).content.decode()
    assert "O scorecard 2026.2 está ativo. Reverter para 2026.1?" in question
    assert scorecard_active_version() == "2026.2"
    page = approver_client.post(ROLLBACK, {"reason": "reclamações"}, follow=True).content.decode()

    assert "Revertido: o scorecard 2026.1 está ativo" in page
    assert scorecard_active_version() == "2026.1"
    assert ScorecardEvent.objects.filter(action="rolled_back", reason="reclamações").exists()


def test_if_the_matrix_is_downloaded_then_it_is_a_csv_of_both_populations(
    proposed, operator_client
):
    response = operator_client.post(proposal_url(proposed.pk, "matrix_csv"))

    rows = response.content.decode().splitlines()
    assert rows[0] == "population,current_band (2026.1),proposed_band (2026.2),profiles,share"
    assert "all,excellent,excellent,1,1.0000" in rows
    assert len(rows) == 1 + 2 * 16


@pytest.mark.parametrize(
    ("role", "status"),
    [
        pytest.param(StaffRole.AUDITORS, 200, id="auditor"),
        pytest.param(StaffRole.MODEL_APPROVERS, 200, id="approver"),
        pytest.param(StaffRole.CREDIT_DATA_OPERATORS, 200, id="operator"),
        pytest.param(StaffRole.KEY_MANAGERS, 403, id="key-manager"),
    ],
)
def test_if_staff_open_the_record_then_only_those_allowed_see_it_read_only(
    staff_member, role, status
):
    client = sign_in(Client(), staff_member("x", role=role))

    response = client.get(RECORD)

    assert response.status_code == status
    if status == 200:
        assert reverse("admin:scores_scorecardevent_add") not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "method"),
    [
        pytest.param(UPLOAD, "get", id="upload"),
        pytest.param(PROPOSE, "post", id="propose"),
        pytest.param(ROLLBACK, "get", id="rollback"),
    ],
)
def test_if_an_auditor_tries_a_change_then_it_is_forbidden(auditor, url, method):
    client = sign_in(Client(), auditor)

    assert getattr(client, method)(url).status_code == 403
