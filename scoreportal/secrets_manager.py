"""Production secrets from AWS Secrets Manager, put into the environment at start-up.

On Lambda the function's environment names a secret (SCOREPORTAL_SECRET_ID) instead of
holding secrets: its JSON value carries DJANGO_SECRET_KEY, CPF_HASH_KEY and DATABASE_URL
(the ops function's also the administrator's and the serving role's database URLs).
`settings.py` calls `load_secrets_into_environ()` before it reads the environment, once per
cold start (one GetSecretValue call). A variable already set in the environment wins, so a
laptop or a test can still set it directly. Without SCOREPORTAL_SECRET_ID nothing happens.

The call goes through boto3, which honours AWS_ENDPOINT_URL_SECRETS_MANAGER (tests point it
at moto), proxies, CA bundles and every credential source. Django's settings do not exist
yet at this point, so the client is made here, once, with timeouts of its own.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured

from scoreportal import aws_clients
from scoreportal.database_roles import ADMIN_URL_VARIABLE, SERVING_URL_VARIABLE

SECRET_ID_VARIABLE = "SCOREPORTAL_SECRET_ID"  # noqa: S105 (a variable name, not a secret)
MANAGED_VARIABLES = ("DJANGO_SECRET_KEY", "CPF_HASH_KEY", "DATABASE_URL")
# Only the ops function's secret carries these (the database's roles: docs/deploy.md).
DATABASE_ROLE_VARIABLES = (ADMIN_URL_VARIABLE, SERVING_URL_VARIABLE)
# Start-up may wait a little longer than a request, but not for long: Lambda's init phase
# is limited to 10 seconds.
_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 3},
    tcp_keepalive=True,
)


def load_secrets_into_environ(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Fetch the secret named by SCOREPORTAL_SECRET_ID; set the variables it carries.

    Returns the names that were set. Any failure stops start-up with a message that names
    the secret, never its value.
    """
    secret_id = environ.get(SECRET_ID_VARIABLE)
    if not secret_id:
        return []

    # Django's LOGGING is not in force yet (Zappa's handler has set the root logger to the
    # stage's log_level): at DEBUG botocore would write the answer, the secret itself.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = aws_clients.create_client(
        "secretsmanager", region_name=environ.get("AWS_REGION", "sa-east-1"), config=_CONFIG
    )
    try:
        secret = client.get_secret_value(SecretId=secret_id)["SecretString"]
        values = json.loads(secret)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise ImproperlyConfigured(
            f"cannot read secret {secret_id!r} from Secrets Manager: {code}"
        ) from None
    except (BotoCoreError, KeyError) as exc:
        reason = "no SecretString" if isinstance(exc, KeyError) else type(exc).__name__
        raise ImproperlyConfigured(
            f"cannot read secret {secret_id!r} from Secrets Manager: {reason}"
        ) from None
    except ValueError:
        raise ImproperlyConfigured(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(values, dict):
        raise ImproperlyConfigured(f"secret {secret_id!r} is not a JSON object")

    loaded = []
    for name in (*MANAGED_VARIABLES, *DATABASE_ROLE_VARIABLES):
        if name in values and name not in environ:
            environ[name] = str(values[name])
            loaded.append(name)
    return loaded
