"""Functions Zappa's scheduled events call on Lambda (see zappa_settings.json "events")."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command

# Leave room under the function's 29-second timeout for start-up and the final count.
PRUNE_MAX_SECONDS = 20
SUMMARIZE_MAX_SECONDS = 20
INVALIDATE_MAX_SECONDS = 20


def audit_partitions(event: dict[str, Any], context: Any) -> None:
    """Daily: create the audit trail's months ahead (this one and the next two exist, so
    runs missed for weeks lose nothing)."""
    call_command("audit_partitions")


def prune_audit(event: dict[str, Any], context: Any) -> None:
    """Daily: remove audit rows past AUDIT_RETENTION_DAYS, within one invocation's time."""
    call_command("prune_audit", "--max-seconds", str(PRUNE_MAX_SECONDS))


def summarize_usage(event: dict[str, Any], context: Any) -> None:
    """Every 15 minutes: bring the usage report's daily summary up to date (a backlog, such
    as the first run's, continues at the next run)."""
    call_command("summarize_usage", "--max-seconds", str(SUMMARIZE_MAX_SECONDS))


def drain_score_invalidations(event: dict[str, Any], context: Any) -> None:
    """Every 5 minutes: write the cache invalidations that profile changes left pending (a
    crash after their commit, DynamoDB down during an import or an edit); a backlog
    continues at the next run."""
    call_command("invalidate_scores", "--pending", "--max-seconds", str(INVALIDATE_MAX_SECONDS))
