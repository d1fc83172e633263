"""PostgreSQL, health-checking a reused connection only when it has been idle.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a persistent connection: on the score path a second round trip next to the
only statement the request needs (the audit INSERT). What the check guards against is a
connection that died while unused: a Lambda frozen between invocations, RDS Proxy or the
server dropping an idle client, a failover. So this backend checks a connection only when
it has been idle for more than DATABASE_HEALTH_CHECK_IDLE_SECONDS (default 5); the
back-to-back requests of a busy instance skip it.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_used_at = 0.0  # monotonic time of the last cursor; 0: never used

    def close_if_health_check_failed(self) -> None:
        idle = time.monotonic() - self.last_used_at
        if self.connection is not None and idle < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS:
            self.health_check_done = True  # used moments ago: alive
        super().close_if_health_check_failed()

    def _cursor(self, name: str | None = None) -> Any:
        cursor = super()._cursor(name)  # type: ignore[misc]  # not in django-stubs
        self.last_used_at = time.monotonic()
        return cursor
