"""manage.py scorecard_propose VERSION --user U [--reason R]: propose a version for
activation, as the admin does; its impact is computed before the command returns."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoreportal.exceptions import ApplicationError
from scores.management.commands._scorecard_command import staff_user
from scores.models import ScorecardProposal
from scores.services.scorecards import scorecard_propose


class Command(BaseCommand):
    help = (
        "Propose a scorecard version (shipped or uploaded) for activation, as USER (a credit "
        "data operator). Its impact against the active version is computed (inline here); a "
        "second person approves it (scorecard_approve)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version")
        parser.add_argument("--user", required=True, help="The proposer's username.")
        parser.add_argument("--reason", default="", help="Why this version.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = staff_user(options["user"])
        try:
            proposal = scorecard_propose(
                version=options["version"], actor=user, reason=options["reason"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        proposal = ScorecardProposal.objects.get(pk=proposal.pk)
        self.stdout.write(
            f"Proposal {proposal.pk}: scorecard {proposal.version} (active: "
            f"{proposal.baseline_version}), impact {proposal.impact_status}. "
            f"Approve with: manage.py scorecard_approve {proposal.pk} --user OTHER_USER"
        )
