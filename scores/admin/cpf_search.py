"""CPF searches in the admin: exact (by the CPF's lookup hash), and leaving no CPF in any
address.

A changelist's search box sends its term in the body of a POST (templates/admin/
search_form.html). A term that holds a CPF, in any spelling, is kept in the staff member's
session under a random token, as the CPF's lookup hash and masked form (never the CPF),
and the changelist opens at `?q=<token>`: its links, `_changelist_filters`, the Referer
its pages send and its export carry the token, which means nothing outside that session.
An admin address with a CPF written into it by hand is answered with a redirect to the
same address with a token instead. Any other search stays as it was typed.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext

from scoreportal.admin_url import is_admin_path
from scoreportal.logging import cpf_shapes
from scores.core.cpf import Cpf, InvalidCpf

# The POST of a changelist's search box is told apart from its actions by this field.
SEARCH_FORM_FIELD = "_search"
PRESERVED_FILTERS_VAR = "_changelist_filters"
TOKEN_PREFIX = "cpf-"  # noqa: S105 (a search token, not a secret)
# Letters only: a token can never look like a CPF, to the redactor or to a person.
_TOKEN_ALPHABET = string.ascii_lowercase
_TOKEN_LENGTH = 16  # 75 bits
_SESSION_KEY = "scores.cpf_searches"
# A session keeps its latest searches, a staff member's working day of them.
MAX_SEARCHES_KEPT = 100
# Hashes (a file's SHA-256, a CPF's lookup hash) are searched for as they are, even when a
# run of their digits happens to look like a CPF.
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{32,}")


@dataclass(frozen=True, slots=True)
class SearchedCpf:
    """A CPF searched for in this session: what finds its rows, and what shows it."""

    lookup_hash: str
    masked: str


def cpf_search_recall(request: HttpRequest, term: str) -> SearchedCpf | None:
    """The CPF a search token stands for in this session; None for any other term."""
    if not term.startswith(TOKEN_PREFIX):
        return None
    kept = request.session.get(_SESSION_KEY, {}).get(term)
    return SearchedCpf(*kept) if kept else None


def is_cpf_search_token(term: str) -> bool:
    """Whether `term` is shaped like a search token (of this session or not)."""
    return term.startswith(TOKEN_PREFIX)


def _token_for(request: HttpRequest, cpf: Cpf) -> str:
    """This session's token for `cpf`: the one it already has, or a new one."""
    searches: dict[str, list[str]] = request.session.get(_SESSION_KEY, {})
    lookup_hash = cpf.lookup_hash(settings.CPF_HASH_KEY)
    for token, (kept_hash, _masked) in searches.items():
        if kept_hash == lookup_hash:
            return token
    token = TOKEN_PREFIX + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(_TOKEN_LENGTH))
    searches[token] = [lookup_hash, cpf.masked]
    for oldest in list(searches)[:-MAX_SEARCHES_KEPT]:
        del searches[oldest]
    request.session[_SESSION_KEY] = searches
    return token


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def cpf_free_term(request: HttpRequest, term: str) -> str:
    """`term` as it may travel in an address: unchanged if it holds no CPF, else this
    session's token for the CPF it holds; empty if that is not a valid CPF (or several),
    or if nobody is signed in to keep a token for."""
    shapes = cpf_shapes(term)
    if not shapes or _HEX_DIGEST.fullmatch(term.strip()):
        return term
    if not _is_staff(request):
        return ""
    try:
        (digits,) = shapes
        cpf = Cpf.parse(digits)
    except (ValueError, InvalidCpf):
        messages.error(
            request,
            gettext(
                "The search was not made: what looks like a CPF in it is not a valid "
                "CPF. Check its digits."
            ),
            fail_silently=True,
        )
        return ""
    return _token_for(request, cpf)


def cpf_free_query(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """An admin address's query parameters with no CPF left: the search's as a token,
    the preserved filters' search likewise, any other parameter holding one dropped."""
    kept: list[tuple[str, str]] = []
    for name, value in pairs:
        if name == SEARCH_VAR:
            value = cpf_free_term(request, value)
        elif name == PRESERVED_FILTERS_VAR:
            value = urlencode(cpf_free_query(request, parse_qsl(value, keep_blank_values=True)))
        elif cpf_shapes(name) or cpf_shapes(value):
            continue
        if value or name != SEARCH_VAR:
            kept.append((name, value))
    return kept


def _address(request: HttpRequest, pairs: list[tuple[str, str]]) -> str:
    query = urlencode(pairs)
    return request.path + (f"?{query}" if query else "")


class CpfFreeAdminAddressesMiddleware:
    """Answer the admin's search box (a POST) with a redirect to its changelist at a
    CPF-free address, and redirect any admin address that holds a CPF to one that does
    not. Placed after the CSRF, authentication and message middleware: the search's POST
    is checked for its CSRF token before it is read here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not is_admin_path(request.path_info):
            return None
        if request.method == "POST" and SEARCH_FORM_FIELD in request.POST:
            return self._searched(request)
        if request.method in ("GET", "HEAD") and request.GET:
            pairs = [(name, value) for name, values in request.GET.lists() for value in values]
            cleaned = cpf_free_query(request, pairs)
            if cleaned != pairs:
                return HttpResponseRedirect(_address(request, cleaned))
        return None

    def _searched(self, request: HttpRequest) -> HttpResponse | None:
        if not _is_staff(request):
            return None  # the admin sends them to sign in; the term stays in the body
        term = request.POST.get(SEARCH_VAR, "")
        current = request.GET.get(SEARCH_VAR, "")
        # The box shows the masked CPF of the search it made; sent again, it is the same.
        searched = cpf_search_recall(request, current)
        pairs = [
            (name, value)
            for name, values in request.POST.lists()
            if name not in (SEARCH_VAR, SEARCH_FORM_FIELD, "csrfmiddlewaretoken")
            for value in values
        ]
        if searched is not None and term.strip() == searched.masked:
            term = current
        return HttpResponseRedirect(
            _address(request, cpf_free_query(request, [*pairs, (SEARCH_VAR, term)]))
        )


def _cpf_hash_of(term: str) -> str | None:
    try:
        return Cpf.parse(term).lookup_hash(settings.CPF_HASH_KEY)
    except InvalidCpf:
        return None


class CpfSearchMixin:
    """Search by CPF through its lookup hash: a CPF search's token of this session, or a
    CPF in any accepted form; `_search_other` for any other term."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        searched = cpf_search_recall(request, term)
        if searched is not None:
            return queryset.filter(cpf_hash=searched.lookup_hash), False
        if is_cpf_search_token(term):
            messages.warning(
                request,
                gettext(
                    "That CPF search ended with the session it was made in: search for "
                    "the CPF again."
                ),
            )
            return queryset.none(), False
        cpf_hash = _cpf_hash_of(term)
        if cpf_hash is not None:
            return queryset.filter(cpf_hash=cpf_hash), False
        return self._search_other(request, queryset, term)

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Any other term: the admin's own search over `search_fields`."""
        found: tuple[QuerySet[Any], bool] = super().get_search_results(  # type: ignore[misc]
            request, queryset, term
        )
        return found
