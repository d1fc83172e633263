"""What a person scored asks of the service (Lei 12.414, Decreto 9.936): the register of
their requests and each request's history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoreportal.models import AppendOnlyRecord


class ConsumerRequestKind(models.TextChoices):
    """What the consumer asked for."""

    SUSPEND = "suspend", _("Suspension of access to the score")
    REOPEN = "reopen", _("Reopening")
    CANCEL = "cancel", _("Cancellation of the record")
    DISPUTE = "dispute", _("Dispute of recorded information")


class ConsumerRequestChannel(models.TextChoices):
    """How the request reached us."""

    PHONE = "phone", _("Phone")
    WEB = "web", _("Web")
    LETTER = "letter", _("Letter")
    IN_PERSON = "in_person", _("In person")


class ConsumerRequestState(models.TextChoices):
    """Where a request stands. A suspension or cancellation is in force from its
    registration until a reopening lifts it; a dispute is open until resolved; a reopening
    is done when registered."""

    IN_FORCE = "in_force", _("In force")
    LIFTED = "lifted", _("Lifted by a reopening")
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    DONE = "done", _("Done")


class DisputeOutcome(models.TextChoices):
    """How a dispute ended."""

    CORRECTED = "corrected", _("Corrected")
    CONFIRMED = "confirmed", _("Confirmed as recorded")


class ConsumerRequestAction(models.TextChoices):
    """A step in a request's history."""

    REGISTERED = "registered", _("Registered")
    LIFTED = "lifted", _("Lifted")
    RESOLVED = "resolved", _("Resolved")
    PROFILE_REMOVED = "profile_removed", _("Credit data removed")
    PROFILE_CORRECTED = "profile_corrected", _("Profile corrected")


class ConsumerRequest(models.Model):
    """One request of a consumer, kept by the CPF's lookup hash and masked form (never the
    CPF). Its state is what the score path and the imports obey; every change of it is a
    ConsumerRequestEvent, written by scores.services.consumer_requests only."""

    cpf_hash = models.CharField(_("CPF hash"), max_length=64, editable=False)
    cpf_masked = models.CharField(_("CPF"), max_length=14, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=ConsumerRequestKind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=ConsumerRequestChannel.choices)
    protocol = models.CharField(
        _("protocol"),
        max_length=40,
        unique=True,
        help_text=_("The number given to the consumer to follow the request."),
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    due_on = models.DateField(_("due on"), editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=ConsumerRequestState.choices, editable=False
    )
    disputed_fields = models.JSONField(
        _("disputed characteristics"), default=list, blank=True, editable=False
    )
    reason = models.TextField(_("consumer's account"), blank=True, max_length=2000)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=DisputeOutcome.choices, blank=True, editable=False
    )
    resolution = models.TextField(_("resolution"), blank=True, editable=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        editable=False,
        verbose_name=_("registered by"),
    )
    registered_by_name = models.CharField(_("registered by (name)"), max_length=150, editable=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("resolved by"),
    )
    resolved_by_name = models.CharField(
        _("resolved by (name)"), max_length=150, blank=True, editable=False
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("consumer request")
        verbose_name_plural = _("consumer requests")
        permissions = [("resolve_consumerrequest", _("Can resolve consumer disputes"))]
        indexes = [
            # What the score path and the imports ask: is this CPF suspended, cancelled or
            # disputed now. Only requests in force or open are ever asked for.
            models.Index(
                fields=["cpf_hash", "kind"],
                name="consumerrequest_standing",
                condition=models.Q(state__in=["in_force", "open"]),
            ),
            models.Index(fields=["cpf_hash", "-received_at"], name="consumerrequest_cpf"),
            models.Index(
                fields=["due_on"],
                name="consumerrequest_due",
                condition=models.Q(state__in=["in_force", "open"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} ({self.get_kind_display()}, {self.cpf_masked})"


class ConsumerRequestEvent(AppendOnlyRecord):
    """A step of a consumer request: who, when, what, and why. Append-only."""

    request = models.ForeignKey(
        ConsumerRequest,
        on_delete=models.PROTECT,
        related_name="events",
        editable=False,
        verbose_name=_("request"),
    )
    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    action = models.CharField(
        _("action"), max_length=32, choices=ConsumerRequestAction.choices, editable=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("by"),
    )
    actor_name = models.CharField(_("by (name)"), max_length=150, editable=False)
    note = models.TextField(_("note"), blank=True, editable=False)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("consumer request step")
        verbose_name_plural = _("consumer request steps")

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.actor_name})"
