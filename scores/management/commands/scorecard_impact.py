"""manage.py scorecard_impact VERSION: what activating VERSION would do, printed."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scores.core.scorecard import InvalidScorecard
from scores.impact import BANDS, impact_compute
from scores.selectors import scorecard_active_version, scorecard_get


class Command(BaseCommand):
    help = (
        "Print the impact of scorecard VERSION against the active one over every credit "
        "profile (and those consulted in the last 30 days): profiles, mean score and PD "
        "before and after, first reasons that change, and the band migration matrix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version")
        parser.add_argument(
            "--against", default=None, help="The version to compare with (default: the active one)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            current = scorecard_get(options["against"] or scorecard_active_version())
            proposed = scorecard_get(options["version"])
        except InvalidScorecard as exc:
            raise CommandError(str(exc)) from None
        started = time.perf_counter()
        summary = impact_compute(current=current, proposed=proposed)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"Impact of scorecard {proposed.version} against {current.version}")
        for name, label in (("all", "every profile"), ("recent", "consulted in the last 30 days")):
            impact = summary.populations[name]
            self.stdout.write(f"\n{label}: {impact.profiles} profiles")
            if not impact.profiles:
                continue
            self.stdout.write(
                f"  mean score {impact.mean_score_current} -> {impact.mean_score_proposed}; "
                f"mean PD {impact.mean_pd_current} -> {impact.mean_pd_proposed}"
            )
            self.stdout.write(
                f"  band changes: {impact.moved} ({_percent(impact.moved, impact.profiles)}); "
                f"first reason changes: {impact.reason_changed} "
                f"({_percent(impact.reason_changed, impact.profiles)})"
            )
            self.stdout.write("  migration (rows: current band, columns: proposed band)")
            self.stdout.write("  " + "".join(f"{band:>12}" for band in ("", *BANDS)))
            for band, row in zip(BANDS, impact.matrix, strict=True):
                cells = "".join(f"{count:>12}" for count in row)
                self.stdout.write(f"  {band:>12}{cells}")
        self.stdout.write(f"\n({elapsed:.1f} s)")


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.2f} %"
