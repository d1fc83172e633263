"""Records of the auditors' accesses to audit data: CSV exports of the audit trail and
runs of the per-CPF report. Both are audit data themselves (append-only in the database),
written before the data they describe is shown or sent."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User

from audit.exceptions import ExportFiltersTooLong
from audit.models import AuditExport, CpfReportRun
from scores.admin.cpf_search import SearchedCpf, is_cpf_search_token
from scores.core.cpf import Cpf, InvalidCpf

SEARCH_VAR = "q"  # the admin changelist's search parameter


def audit_export_record(
    *,
    actor: User,
    filters: Mapping[str, Sequence[str]],
    row_count: int,
    searched: SearchedCpf | None = None,
) -> AuditExport:
    """Record an export of the audit trail before its first row is sent.

    `filters` are the changelist's query parameters; `searched`, the CPF its search token
    stands for. A search for a CPF is kept as its hash and masked form, never the CPF or
    the token; any other search that is not a request id is kept as "…" (it matched
    nothing, and may be a mistyped CPF).
    Filters longer than the record keeps raise ExportFiltersTooLong: the export must not be
    made.
    """
    kept: list[tuple[str, str]] = []
    for name in sorted(filters):
        for value in filters[name]:
            if name == SEARCH_VAR:
                value, searched = _search_kept(value.strip(), searched)
            kept.append((name, value))
    recorded = urlencode(kept)
    if len(recorded) > AuditExport._meta.get_field("filters").max_length:  # type: ignore[operator]
        raise ExportFiltersTooLong()
    export = AuditExport(
        actor=actor,
        actor_name=actor.get_username(),
        filters=recorded,
        cpf_hash=searched.lookup_hash if searched else "",
        cpf_masked=searched.masked if searched else "",
        row_count=row_count,
    )
    export.full_clean()
    export.save()
    return export


def _search_kept(term: str, searched: SearchedCpf | None) -> tuple[str, SearchedCpf | None]:
    if searched is not None and is_cpf_search_token(term):
        return searched.masked, searched
    try:
        parsed = Cpf.parse(term)
    except InvalidCpf:
        pass
    else:
        return parsed.masked, SearchedCpf(parsed.lookup_hash(settings.CPF_HASH_KEY), parsed.masked)
    try:
        return str(uuid.UUID(term)), searched
    except ValueError:
        return ("…" if term else ""), searched


def cpf_report_record(
    *,
    actor: User,
    cpf: Cpf,
    period_start: date,
    period_end: date,
    output: CpfReportRun.Output,
    row_count: int,
    reason: str = "",
) -> CpfReportRun:
    """Record a run of the consultation report for `cpf` before it is shown or sent, with
    why it is run (`reason`, as the auditor gave it)."""
    run = CpfReportRun(
        actor=actor,
        actor_name=actor.get_username(),
        cpf_hash=cpf.lookup_hash(settings.CPF_HASH_KEY),
        cpf_masked=cpf.masked,
        period_start=period_start,
        period_end=period_end,
        output=output,
        row_count=row_count,
        reason=reason.strip(),
    )
    run.full_clean()
    run.save()
    return run
