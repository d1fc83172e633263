"""WSGI entry point, and the one place a process gets ready to serve.

Imported by each gunicorn worker (after the fork: no `--preload`, so each opens its own
connections) and, on Lambda, by Zappa's handler during the init phase: zappa_settings.json
names `application` as the stage's `app_function` and sets
INSTANTIATE_LAMBDA_HANDLER_ON_IMPORT. A keep-warm event runs no request, so what the first
request would otherwise pay for is done here (docs/architecture.md, "Cold start").
"""

import gc
import logging
import os

from django.core.wsgi import get_wsgi_application
from django.db import Error as DatabaseError
from django.db import connection
from django.urls import resolve

from scoreportal import aws_clients

logger = logging.getLogger(__name__)

# Start-up allocates objects that live as long as the process (modules, classes, the URL
# conf, the clients): no collection during it, and none of them examined by a later one.
gc.disable()
try:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scoreportal.settings")
    application = get_wsgi_application()
    # The URL conf and the views behind it: the score path's is the one partners call.
    resolve("/api/v1/scores")
    aws_clients.dynamodb()
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        # Not fatal: each request opens the connection it needs, and answers 503 while the
        # database cannot be reached.
        logger.warning(
            "database not reachable at start-up (%s); requests will connect",
            type(exc).__name__,
        )
finally:
    gc.freeze()
    gc.enable()
