"""What the platform asks of the apps' models (no table of its own)."""

from __future__ import annotations

from django.apps import apps
from django.db import models


class AppendOnlyRecord(models.Model):
    """A record that is only ever added to, never changed or removed by the application:
    its app's migrations give its table triggers that refuse UPDATE, DELETE and TRUNCATE,
    and the serving role may only read and insert its rows (`manage.py grant_serving_role`).
    """

    class Meta:
        abstract = True


def append_only_tables() -> list[str]:
    """The tables of every append-only record, sorted."""
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if issubclass(model, AppendOnlyRecord) and not model._meta.proxy
        }
    )
