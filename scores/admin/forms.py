"""Forms of the credit data pages: a profile's correction, the upload of a CSV file to
import, a consumer's request and a dispute's resolution."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.cpf import Cpf, InvalidCpf
from scores.exceptions import ConsumerRequestRefused
from scores.models import ConsumerRequest, CreditProfile, DisputeOutcome
from scores.services import consumer_request_check


class CreditProfileCorrectionForm(forms.ModelForm[CreditProfile]):
    """A profile's characteristics, and why they are corrected: the case's protocol and
    the reason, asked for whenever a characteristic changes (both are recorded)."""

    correction_protocol = forms.CharField(
        label=_("Protocol"),
        max_length=40,
        required=False,
        help_text=_("The number of the case that asked for the correction."),
    )
    correction_reason = forms.CharField(
        label=_("Reason for the correction"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = CreditProfile
        fields = list(PROFILE_CHARACTERISTICS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if any(name in PROFILE_CHARACTERISTICS for name in self.changed_data):
            for name in ("correction_protocol", "correction_reason"):
                if not (cleaned.get(name) or "").strip():
                    self.add_error(
                        name, _("A correction is recorded with its protocol and its reason.")
                    )
        return cleaned


class ProfileImportForm(forms.Form):
    """A CSV file of credit profiles to check (and then import), and whether a bad row
    stops the whole file."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, separated by commas or semicolons, with the header row (cpf and one "
            "column per characteristic)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    strict = forms.BooleanField(
        label=_("Strict"),
        required=False,
        help_text=_("If any row is bad, import nothing."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.PROFILE_IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s."),
                code="too_large",
                params={"limit": filesizeformat(limit)},
            )
        if not upload.size:
            raise forms.ValidationError(_("The file is empty."), code="empty")
        return upload


def _characteristic_choices() -> list[tuple[str, Any]]:
    return [(name, CreditProfile.characteristic_label(name)) for name in PROFILE_CHARACTERISTICS]


class ConsumerRequestForm(forms.ModelForm[ConsumerRequest]):
    """A consumer's request as the consumer service takes it: the CPF (kept only as its
    lookup hash and masked form), what is asked, how it came and, for a dispute, what is
    disputed."""

    cpf = forms.CharField(
        label=_("CPF"), max_length=40, help_text=_("11 digits, bare or formatted.")
    )
    protocol = forms.CharField(
        label=_("protocol"),
        max_length=40,
        required=False,
        help_text=_("The number given to the consumer. Blank: a new one is given."),
    )
    characteristics = forms.MultipleChoiceField(
        label=_("disputed characteristics"),
        required=False,
        choices=_characteristic_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For a dispute: what the consumer says is wrong."),
    )

    class Meta:
        model = ConsumerRequest
        fields = ["kind", "channel", "protocol", "received_at", "reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3})}

    field_order = ["cpf", "kind", "channel", "protocol", "received_at", "characteristics"]

    def clean_cpf(self) -> Cpf:
        try:
            return Cpf.parse(self.cleaned_data["cpf"])
        except InvalidCpf:
            raise forms.ValidationError(_("This is not a valid CPF."), code="invalid") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cpf, kind, received = (cleaned.get(name) for name in ("cpf", "kind", "received_at"))
        if isinstance(cpf, Cpf) and kind and received:
            try:
                consumer_request_check(
                    cpf=cpf,
                    kind=kind,
                    disputed_fields=cleaned.get("characteristics") or [],
                    received_at=received,
                )
            except ConsumerRequestRefused as exc:
                raise forms.ValidationError(exc.message, code="refused") from None
        return cleaned

    def validate_unique(self) -> None:
        """The protocol's uniqueness is the service's to check (it gives one if blank)."""


class DisputeResolutionForm(forms.Form):
    """How a dispute ends, and why (the reason is given to the consumer)."""

    outcome = forms.ChoiceField(
        label=_("outcome"), choices=DisputeOutcome.choices, widget=forms.RadioSelect
    )
    resolution = forms.CharField(
        label=_("resolution"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What was checked and what was done. If the data was wrong, correct the profile "
            "first: the correction is noted on the dispute."
        ),
    )
