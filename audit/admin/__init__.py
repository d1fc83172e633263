"""The auditors' admin: the audit trail and its export, the reports, the records of who
read the trail, and the trail's counts on the key managers' pages."""

from audit.admin import (  # noqa: F401  (each registers its entries)
    keys,
    records,
    reports,
    stability,
    start,
    trail,
)
