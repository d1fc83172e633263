"""The auditors' admin: the audit trail and its export, the reports, the records of who
read the trail, and the trail's counts on the key managers' pages."""

from audit.admin import keys, records, reports, stability, trail  # noqa: F401  (each registers its entries)
