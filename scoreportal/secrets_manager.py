"""Production secrets from AWS Secrets Manager, put into the environment at start-up.

On Lambda the function's environment names a secret (SCOREPORTAL_SECRET_ID) instead of
holding secrets: its JSON value carries DJANGO_SECRET_KEY, CPF_HASH_KEY and DATABASE_URL.
`settings.py` calls `load_secrets_into_environ()` before it reads the environment, once per
cold start (one GetSecretValue call). A variable already set in the environment wins, so a
laptop or a test can still set it directly. Without SCOREPORTAL_SECRET_ID nothing happens.

Like boto3, the client honours AWS_ENDPOINT_URL_SECRETS_MANAGER: tests point it at moto.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping

from django.core.exceptions import ImproperlyConfigured

SECRET_ID_VARIABLE = "SCOREPORTAL_SECRET_ID"  # noqa: S105 (a variable name, not a secret)
MANAGED_VARIABLES = ("DJANGO_SECRET_KEY", "CPF_HASH_KEY", "DATABASE_URL")


def load_secrets_into_environ(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Fetch the secret named by SCOREPORTAL_SECRET_ID; set the variables it carries.

    Returns the names that were set. Any failure stops start-up with a message that names
    the secret, never its value.
    """
    secret_id = environ.get(SECRET_ID_VARIABLE)
    if not secret_id:
        return []

    from scoreportal.aws import AwsError, JsonProtocolClient

    client = JsonProtocolClient(
        service="secretsmanager",
        target_prefix="secretsmanager",
        json_version="1.1",
        region=environ.get("AWS_REGION", "sa-east-1"),
    )
    try:
        secret = client.call("GetSecretValue", {"SecretId": secret_id})["SecretString"]
        values = json.loads(secret)
    except (AwsError, KeyError) as exc:
        code = exc.code if isinstance(exc, AwsError) else "no SecretString"
        raise ImproperlyConfigured(
            f"cannot read secret {secret_id!r} from Secrets Manager: {code}"
        ) from None
    except ValueError:
        raise ImproperlyConfigured(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(values, dict):
        raise ImproperlyConfigured(f"secret {secret_id!r} is not a JSON object")

    loaded = []
    for name in MANAGED_VARIABLES:
        if name in values and name not in environ:
            environ[name] = str(values[name])
            loaded.append(name)
    return loaded
