"""The language of each response.

- The admin speaks the staff member's chosen language (accounts.StaffProfile, copied into
  the session at sign-in), else the language cookie set when they chose it, else
  LANGUAGE_CODE (Brazilian Portuguese). The browser's Accept-Language is not consulted:
  the portal's staff work in Portuguese unless they choose otherwise.
- The API speaks English: partners' integrations read its messages, and DRF's own
  (translated) validation messages must not change with the server's default language.

Django's LocaleMiddleware would follow Accept-Language everywhere; this replaces it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from scoreportal.admin_url import is_admin_path

API_LANGUAGE = "en"
# Where a signed-in staff member's chosen language is kept (accounts writes it at sign-in).
STAFF_LANGUAGE_SESSION_KEY = "staff_language"


class LanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self._language_for(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response

    def _language_for(self, request: HttpRequest) -> str:
        if not is_admin_path(request.path_info):
            return API_LANGUAGE
        session = getattr(request, "session", None)
        chosen = session.get(STAFF_LANGUAGE_SESSION_KEY) if session is not None else None
        chosen = chosen or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        return chosen if chosen in self.supported else str(settings.LANGUAGE_CODE)
