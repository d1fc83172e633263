"""Writes of the audit app, one module per job: records of who read the trail (`records`),
the daily usage summary (`usage`), and pruning past retention (`pruning`)."""

from audit.services.pruning import consultations_prune
from audit.services.records import audit_export_record, cpf_report_record
from audit.services.usage import usage_summarize, usage_summary_refresh

__all__ = [
    "audit_export_record",
    "consultations_prune",
    "cpf_report_record",
    "usage_summarize",
    "usage_summary_refresh",
]
