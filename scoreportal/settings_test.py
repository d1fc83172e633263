"""Settings for the test suite: the production settings plus test-only speed-ups.

`make test` (devstack) provides the environment: a Postgres DATABASE_URL, a local DynamoDB
endpoint and throwaway secrets. Nothing here loosens behaviour the tests are meant to check.
"""

import os
from datetime import datetime

from scoreportal.settings import *  # noqa: F403
from scoreportal.settings import DATABASES, STORAGES, env

# The suite connects as the serving role, as the request path does (DATABASE_URL); the
# schema's owner (DATABASE_OWNER_URL; `make test` makes both roles) builds the test
# database and does what only it may, on this alias of the same database (conftest.py).
# Unset for the servers the tests start: they serve, as the serving role only.
if os.environ.get("DATABASE_OWNER_URL"):
    DATABASES["owner"] = {
        **DATABASES["default"],
        "OPTIONS": {**DATABASES["default"].get("OPTIONS", {})},
        **env.db_url_config(os.environ["DATABASE_OWNER_URL"]),
        "TEST": {"MIRROR": "default"},
    }

# Hashing staff passwords with PBKDF2 would dominate the admin tests' run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The manifest needs `collectstatic`; tests render templates without running it.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files from the apps (no collectstatic before tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Tests that run the application in server processes (scores/tests/api/test_across_processes.py)
# can stop those processes' wall clock at one instant, so that their requests all fall in
# one rate-limit minute whenever the test runs. Never set outside those tests.
if os.environ.get("SCOREPORTAL_TEST_WALL_CLOCK"):
    import time_machine

    time_machine.travel(
        datetime.fromisoformat(os.environ["SCOREPORTAL_TEST_WALL_CLOCK"]), tick=False
    ).start()
