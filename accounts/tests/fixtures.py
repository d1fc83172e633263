"""The accounts app's fixtures, for every app's tests: an organization and its API keys,
issued through the real service; staff of each role, signed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.constants import Scope
from accounts.models import ApiKey, Organization
from accounts.services import api_key_issue
from accounts.staff import StaffRole
from conftest import sign_in


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Banco Exemplo", slug="banco-exemplo")


@pytest.fixture
def issue_key(organization: Organization) -> Callable[..., tuple[ApiKey, str]]:
    """Issue a key through the real service; returns (ApiKey, plaintext)."""

    def issue(**kwargs: Any) -> tuple[ApiKey, str]:
        kwargs.setdefault("organization", organization)
        kwargs.setdefault("name", "test key")
        kwargs.setdefault("scopes", [Scope.SCORES_READ])
        return api_key_issue(**kwargs)

    return issue


@pytest.fixture
def api_key(issue_key: Callable[..., tuple[ApiKey, str]]) -> tuple[ApiKey, str]:
    return issue_key()


@pytest.fixture
def client_with_key(api_key: tuple[ApiKey, str]) -> APIClient:
    """An API client that sends a valid key with scores:read."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}")
    return client


@pytest.fixture
def staff_member(staff_user: Callable[..., tuple[Any, Any]]) -> Callable[..., Any]:
    """A staff user with a role (a group of accounts/staff.py), or a superuser, with a
    first name (the pages greet them by it); password STAFF_PASSWORD."""

    def make(username: str = "ana", *, role: str | None = None, superuser: bool = False) -> Any:
        user, _device = staff_user(username, role=role, superuser=superuser)
        user.first_name = username.title()
        user.save(update_fields=["first_name"])
        return user

    return make


@pytest.fixture
def auditor(staff_member: Callable[..., Any]) -> Any:
    return staff_member("ana", role=StaffRole.AUDITORS)


@pytest.fixture
def auditor_client(auditor: Any) -> Client:
    """A client signed in as an Auditor."""
    return sign_in(Client(), auditor)


@pytest.fixture
def role_client(staff_member: Callable[..., Any]) -> Callable[[str | None], Client]:
    """A client signed in as staff of a role (None: staff with no role)."""

    def make(role: str | None) -> Client:
        username = (role or "no role").lower().replace(" ", "-")
        return sign_in(Client(), staff_member(username, role=role))

    return make
