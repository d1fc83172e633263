"""What the admin's search box shows for a CPF search: the masked CPF, never its token."""

from __future__ import annotations

from typing import Any

from django import template

from scores.admin.cpf_search import cpf_search_recall, is_cpf_search_token

register = template.Library()


@register.simple_tag(takes_context=True)
def cpf_search_shown(context: Any, term: str) -> str:
    """The search term as the box shows it: a CPF search's masked CPF; nothing for a
    search of a session that has ended; any other term as typed."""
    request = getattr(context, "request", None)
    if request is None or not is_cpf_search_token(term):
        return term
    searched = cpf_search_recall(request, term)
    return searched.masked if searched else ""
