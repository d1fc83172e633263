"""How long the audit trail is kept at least: six months (Lei 12.414/2011 art. 5, and
Decreto 9.936/2019 art. 10, under which a citizen may ask who consulted their score in
that time).

The one definition of that floor: start-up refuses a shorter AUDIT_RETENTION_DAYS
(audit.apps), `prune_audit` a shorter --days, the append-only triggers (their migrations
keep the number as they ran it) the deletion of younger rows; the per-CPF report looks
this far back by default.
"""

# Six calendar months last 181 to 184 days; counting the longest, no six-month period
# that a citizen may ask about is ever cut short.
AUDIT_RETENTION_MIN_DAYS = 184
