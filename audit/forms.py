"""Forms of the auditors' pages: a range of days, the usage report's, and the per-CPF
report's request."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from audit.local_days import midnight, today
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from scores.core.cpf import Cpf, InvalidCpf

# Days as the browser's date picker sends them (ISO 8601), and as people type them.
_DAY_WIDGET = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class DayRangeForm(forms.Form):
    """A range of whole days in the portal's time zone, both ends included."""

    since = forms.DateField(label=_("from"), required=False, widget=_DAY_WIDGET)
    until = forms.DateField(label=_("to"), required=False, widget=_DAY_WIDGET)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError(
                _("The start date is after the end date."), code="inverted_range"
            )
        return cleaned

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The range as times: from the first day's midnight (included) to the midnight
        after the last day (excluded)."""
        since: date | None = self.cleaned_data.get("since")
        until: date | None = self.cleaned_data.get("until")
        return (
            midnight(since) if since else None,
            midnight(until + timedelta(days=1)) if until else None,
        )


def range_ending_today(days: int) -> dict[str, date]:
    """The `days` days up to today, both ends included, as the forms' data."""
    last = today()
    return {"since": last - timedelta(days=days - 1), "until": last}


class RequiredDayRangeForm(DayRangeForm):
    """A range of days with both ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["since"].required = True
        self.fields["until"].required = True

    def required_bounds(self) -> tuple[datetime, datetime]:
        """`bounds()` of a valid form, both ends present."""
        since: date = self.cleaned_data["since"]
        until: date = self.cleaned_data["until"]
        return midnight(since), midnight(until + timedelta(days=1))


# The usage report's range when none is chosen.
USAGE_REPORT_DEFAULT_DAYS = 30


class UsageReportForm(RequiredDayRangeForm):
    """The usage report's choices: days (default the last 30) and, optionally, one
    organization."""

    organization = forms.ModelChoiceField(
        label=_("organization"),
        queryset=Organization.objects.order_by("name"),
        required=False,
        empty_label=_("All organizations"),
    )


class CpfField(forms.CharField):
    """A CPF in any accepted form, cleaned into a Cpf."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "inputmode": "numeric"})

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        try:
            return Cpf.parse(text)
        except InvalidCpf:
            raise forms.ValidationError(
                _("Enter a valid CPF: 11 digits, with or without punctuation."),
                code="invalid_cpf",
            ) from None


# The per-CPF report looks back six months by default (Decreto 9.936/2019 art. 10): today
# and the AUDIT_RETENTION_MIN_DAYS days before it.
CPF_REPORT_DEFAULT_DAYS = AUDIT_RETENTION_MIN_DAYS + 1


class CpfReportForm(RequiredDayRangeForm):
    """Whose consultations (a CPF) and when (default: the last six months)."""

    cpf = CpfField(label=_("CPF"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("Why the report is run: the request's protocol number, or who asked."),
    )

    field_order = ["cpf", "since", "until", "reason"]
