"""System checks: refuse to start with a scorecard the credit profiles cannot feed."""

from __future__ import annotations

from typing import Any

from django.core import checks

from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.scorecard import InvalidScorecard


@checks.register()
def check_active_scorecard(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from scores.core.scorecard import load_scorecard
    from scores.selectors import default_scorecard_version

    try:
        # The first boot's default (a shipped file); uploaded versions are checked against
        # the profile's characteristics when they are uploaded.
        scorecard = load_scorecard(default_scorecard_version())
    except InvalidScorecard as exc:
        return [checks.Error(str(exc), hint="Check SCORECARD_VERSION.", id="scores.E001")]
    if set(scorecard.characteristic_names) != set(PROFILE_CHARACTERISTICS):
        return [
            checks.Error(
                f"scorecard {scorecard.version} does not score exactly the profile's "
                "characteristics",
                id="scores.E002",
            )
        ]
    return []
