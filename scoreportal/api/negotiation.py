"""Content negotiation that never answers 406: the API speaks JSON whatever Accept says."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JsonOnlyContentNegotiation(DefaultContentNegotiation):
    """Honour Accept (and ?format=) where the view offers a match, else its first renderer."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        if len(renderers) == 1:  # every API view: JSON, whatever Accept says
            return renderers[0], renderers[0].media_type
        try:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        except (NotAcceptable, Http404):
            return renderers[0], renderers[0].media_type
        return renderer, str(media_type)
