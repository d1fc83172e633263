"""Tasks that run in steps (profile imports, audit exports, a scorecard's impact): when
one has lost its task, and starting it again from where its last finished step stopped.

Each step records its progress with the state it saved; a task that died (an invocation
that could not be made, or that was killed) leaves its record running with no progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)


def step_stalled(*, running: bool, progressed_at: datetime, after: timedelta) -> bool:
    """Running with no step started or ended for longer than `after` (longer than a step
    can last): its task was lost."""
    return running and timezone.now() - progressed_at > after


def step_task_resume(
    model: type[M],
    pk: Any,
    *,
    stalled: Callable[[M], bool],
    progressed_field: str,
    step: Callable[[Any], None],
    refused: Callable[[], Exception],
    what: str,
) -> M:
    """Start a stalled task again: lock its record, refuse (`refused()`) unless it is
    `stalled`, mark it as progressing now (a second resume is then refused) and start
    `step(pk)` once that commits. Its steps go on from the state the last one saved."""
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=pk)
        if not stalled(locked):
            raise refused()
        setattr(locked, progressed_field, timezone.now())
        locked.save(update_fields=[progressed_field])
        logger.warning("%s %s resumed after stalling", what, locked.pk)
        transaction.on_commit(lambda: step(locked.pk))
    return locked
