"""Forms of the credit data operators' pages: the upload of a CSV file to import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _


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
