"""The admin speaks Brazilian Portuguese: every string of ours has a pt-BR translation."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import models
from django.utils import translation

from accounts.models import StaffAuthenticator
from devstack.__main__ import MESSAGES_IGNORE, MESSAGES_LOCALE

PROJECT = Path(__file__).resolve().parents[2]
CATALOG = PROJECT / "locale" / MESSAGES_LOCALE / "LC_MESSAGES"
OUR_APPS = ("accounts", "audit", "scores")
# The same in both languages: words, routes, and language names (each in its own language).
SAME_IN_BOTH = {
    "CPF",
    "score",
    "endpoint",
    "Score Portal",
    "POST /api/v1/scores",
    "POST /api/v1/scores/batch",
    "Português (Brasil)",
    "English",
}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """What `make messages` would extract from the code now, merged into a copy of the
    committed catalog (new strings come out untranslated, changed ones fuzzy)."""
    work = tmp_path_factory.mktemp("messages")
    for name in ("accounts", "audit", "scores", "scoreportal", "templates"):
        (work / name).symlink_to(PROJECT / name)
    shutil.copytree(PROJECT / "locale", work / "locale")
    with contextlib.chdir(work), translation.override(None):
        from django.conf import settings

        previous = settings.LOCALE_PATHS
        settings.LOCALE_PATHS = [work / "locale"]
        try:
            call_command(
                "makemessages",
                locale=[MESSAGES_LOCALE],
                symlinks=True,
                ignore_patterns=list(MESSAGES_IGNORE),
                no_obsolete=True,
                verbosity=0,
            )
        finally:
            settings.LOCALE_PATHS = previous
    return polib.pofile(str(work / "locale" / MESSAGES_LOCALE / "LC_MESSAGES" / "django.po"))


def test_if_a_string_of_ours_is_marked_for_translation_then_it_has_a_pt_br_translation(
    extracted,
):
    untranslated = [entry.msgid for entry in extracted if not entry.translated()]

    assert untranslated == [], "run `make messages` and translate these"


def test_if_the_code_changed_then_the_committed_catalog_was_updated_with_it(extracted):
    committed = polib.pofile(str(CATALOG / "django.po"))

    assert {e.msgid for e in extracted} == {e.msgid for e in committed if not e.obsolete}


def test_if_the_catalog_is_committed_then_its_compiled_form_matches_it():
    source = polib.pofile(str(CATALOG / "django.po"))
    compiled = polib.mofile(str(CATALOG / "django.mo"))

    def entries(catalog, *, keep):
        return {
            (e.msgid, e.msgid_plural): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
            for e in catalog
            if e.msgid and keep(e)
        }

    assert entries(compiled, keep=lambda e: True) == entries(
        source, keep=lambda e: not e.obsolete and e.translated()
    ), "run `make messages` to compile django.mo"


def labels_of_our_models():
    for app_label in OUR_APPS:
        for model in apps.get_app_config(app_label).get_models():
            # A proxy of a third-party model (django-axes' records) shows that app's labels on
            # our pages: where it ships no pt-BR, our catalog has them.
            fields = [f for f in model._meta.get_fields() if isinstance(f, models.Field)]
            if model is StaffAuthenticator:
                # django-otp marks none of its labels for translation, so no catalog can
                # reach them: its admin shows our own columns instead (the test below).
                fields = []
            name = model._meta.label
            yield f"{name} verbose_name", model._meta.verbose_name
            yield f"{name} verbose_name_plural", model._meta.verbose_name_plural
            for field in fields:
                if field.name in ("id", "hashed_key") or field.auto_created:
                    continue
                yield f"{name}.{field.name}", field.verbose_name
                if field.help_text:
                    yield f"{name}.{field.name} help_text", field.help_text
                for _value, label in field.flatchoices if field.choices else ():
                    yield f"{name}.{field.name} choice", label


def test_if_a_superuser_opens_the_authenticators_then_every_column_and_field_is_ours():
    authenticators = admin.site._registry[StaffAuthenticator]

    shown = [*authenticators.list_display, *authenticators.readonly_fields]
    assert all(hasattr(authenticators, name) for name in shown), shown
    for name in shown:
        with translation.override("pt-br"):
            assert str(getattr(authenticators, name).short_description) != name


@pytest.mark.parametrize(("where", "label"), list(labels_of_our_models()), ids=lambda v: str(v))
def test_if_a_model_of_ours_is_shown_then_its_labels_are_in_portuguese(where, label):
    with translation.override("en"):
        english = str(label)
    with translation.override("pt-br"):
        portuguese = str(label)

    assert portuguese != english or english in SAME_IN_BOTH, f"{where}: {english!r}"
