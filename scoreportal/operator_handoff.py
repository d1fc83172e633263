"""Secrets for the operator who ran a command, kept out of the logs on a deployed stage.

`issue_api_key`, `rotate_api_key` and `create_staff_user` make something only one person
should ever see: a new API key, a one-time password-set link. On a laptop they print it.
On Lambda a command's output is the function's log (`zappa manage` prints it, and it stays
in CloudWatch, which more people read than should hold a key), so when the operations
bucket is configured (OPERATIONS_BUCKET, set on every deployed stage) the secret is written
to `handoff/<kind>/<random>.txt` in that bucket instead, and the command prints only where
it is and how to read and delete it.

The bucket enforces the rest (infra/scoreportal.yaml, infra/bootstrap.yaml): the function
may only write under `handoff/`, only the operator role (MFA) may read and delete there,
and a lifecycle rule removes what nobody fetched after a day.

A command hands the secret over inside the transaction that creates it: if the write to S3
fails, the command fails and nothing was issued (no key exists that nobody can read).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import CommandError

from scoreportal import aws_clients

PREFIX = "handoff/"


class SecretKind(StrEnum):
    API_KEY = "api-key"
    PASSWORD_LINK = "password-link"  # noqa: S105 (a kind of secret, not one)


@dataclass(frozen=True, slots=True)
class HandoffLocation:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def instructions(self) -> str:
        """What the command prints in place of the secret."""
        return (
            f"It is in {self.uri}: only the operator role may read it, and it is deleted "
            f"after a day. Read it once, then delete it:\n"
            f"  aws s3 cp {self.uri} - && aws s3 rm {self.uri}"
        )


def secret_hand_over(*, kind: SecretKind, secret: str) -> HandoffLocation | None:
    """Put `secret` where only the operator can read it; None where the terminal is that.

    On a laptop (no OPERATIONS_BUCKET) the command prints the secret itself. On a stage
    the secret goes to S3 and the command prints `instructions` instead. Call it inside the
    transaction that creates the secret and print once that has committed: a failed write
    to S3 raises CommandError, which rolls the transaction back, and nothing was issued.
    """
    if not settings.OPERATIONS_BUCKET:
        return None
    location = HandoffLocation(settings.OPERATIONS_BUCKET, f"{PREFIX}{kind}/{uuid.uuid4()}.txt")
    try:
        aws_clients.s3().put_object(
            Bucket=location.bucket,
            Key=location.key,
            Body=(secret + "\n").encode(),
            ContentType="text/plain; charset=utf-8",
        )
    except (BotoCoreError, ClientError) as exc:
        # botocore's message names the bucket and the operation, never the body.
        raise CommandError(
            f"Could not write the {kind} to {location.uri} ({exc}); nothing was issued."
        ) from None
    return location
