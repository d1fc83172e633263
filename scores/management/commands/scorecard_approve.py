"""manage.py scorecard_approve PROPOSAL_ID --user V [--reason R] [--refuse]: the second
person's decision, as in the admin (never the proposer's own)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoreportal.exceptions import ApplicationError
from scores.management.commands._scorecard_command import staff_user
from scores.services.scorecards import scorecard_approve, scorecard_refuse


class Command(BaseCommand):
    help = (
        "Approve a scorecard proposal as USER (a model approver, not the proposer): the "
        "version becomes active for every instance from its next request. --refuse refuses "
        "it instead (a reason is required)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("proposal_id", type=int)
        parser.add_argument("--user", required=True, help="The approver's username.")
        parser.add_argument("--reason", default="", help="Why (required with --refuse).")
        parser.add_argument("--refuse", action="store_true", help="Refuse the proposal.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = staff_user(options["user"])
        try:
            if options["refuse"]:
                proposal = scorecard_refuse(
                    proposal_id=options["proposal_id"], actor=user, reason=options["reason"]
                )
                self.stdout.write(
                    f"Proposal {proposal.pk} refused: {proposal.version} stays inactive."
                )
                return
            proposal = scorecard_approve(
                proposal_id=options["proposal_id"], actor=user, reason=options["reason"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Proposal {proposal.pk} approved: scorecard {proposal.version} is active "
            f"(was {proposal.baseline_version})."
        )
