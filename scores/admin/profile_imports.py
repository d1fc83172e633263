"""Imports of credit profiles in the admin: upload, check (a preview), confirm, progress,
result, and the record of every import, the command line's too.

Thin views: forms validate, services do the work. Each is reached through the ModelAdmin's
URLs, so the admin's sign-in policy and the roles' permissions apply.
"""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scores.admin.forms import ProfileImportForm
from scores.exceptions import (
    ImportNotConfirmable,
    ImportNotResumable,
    UploadNotRecognised,
)
from scores.imports.profile_file import COLUMNS, column_dictionary
from scores.models import ProfileImport
from scores.services import (
    profile_import_confirm,
    profile_import_direct_upload,
    profile_import_resume,
    profile_import_start,
    profile_import_start_uploaded,
)
from scores.services.profile_imports import FILENAME_FIELD, STRICT_FIELD

IMPORT_PERMISSION = "scores.import_creditprofile"
# While a check or an import runs, its page reloads itself this often (a <meta> refresh:
# no script needed under the CSP).
_PROGRESS_REFRESH_SECONDS = 2
# The template's example row: the published example CPF with a strong profile.
TEMPLATE_EXAMPLE_ROW = ("529.982.247-25", "0.98", 0, 0, 0, 0, "0.25", 1, 96, 3)


@admin.register(ProfileImport)
class ProfileImportAdmin(admin.ModelAdmin[ProfileImport]):
    """Import a CSV file of profiles (upload, preview, confirm) and the record of every
    import, from the admin or the command line."""

    # At 1366 px beside the filters; the source, strictness and the rest are on the
    # import's page.
    list_display = [
        "created_at",
        "file_name",
        "actor_name",
        "status_shown",
        "bad_rows",
        "profiles_created",
        "profiles_updated",
    ]
    list_filter = ["status", "source", "strict"]
    search_fields = ["file_name", "actor_name", "file_sha256"]
    actions = None
    show_full_result_count = False

    class Media:
        css = {"all": ["scores/credit_data.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, record: ProfileImport) -> str:
        return format_html(
            '<span class="import-status-{}">{}</span>', record.status, record.get_status_display()
        )

    # Counts, named as such: the model's "created" is also the word for a record's date.
    @admin.display(description=_("profiles created"), ordering="created")
    def profiles_created(self, record: ProfileImport) -> int:
        return record.created

    @admin.display(description=_("profiles updated"), ordering="updated")
    def profiles_updated(self, record: ProfileImport) -> int:
        return record.updated

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("uploaded/", view(self.uploaded_view), name="scores_profileimport_uploaded"),
            path("template/", view(self.template_view), name="scores_profileimport_template"),
            path(
                "<path:object_id>/resume/",
                view(self.resume_view),
                name="scores_profileimport_resume",
            ),
            path(
                "<path:object_id>/confirm/",
                view(self.confirm_view),
                name="scores_profileimport_confirm",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self.upload_view(request)  # type: ignore[return-value]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self.import_view(request, object_id)  # type: ignore[return-value]

    def _page_context(self, request: HttpRequest, title: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def upload_view(self, request: HttpRequest) -> HttpResponseBase:
        """Upload a CSV file: it is kept, recorded, and checked (a dry run) before anything is
        written; the import's page shows the check's progress, then its preview.

        With an operations bucket the browser sends the file to S3 itself (a presigned POST)
        and comes back to `profile_import_uploaded_view`; otherwise the admin receives it."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        direct = None
        if settings.OPERATIONS_BUCKET:
            form = ProfileImportForm()
            direct = profile_import_direct_upload(
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
                return_url=request.build_absolute_uri(
                    reverse("admin:scores_profileimport_uploaded")
                ),
            )
        elif request.method == "POST":
            form = ProfileImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                profile_import = profile_import_start(
                    actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
                    upload=upload,
                    file_name=upload.name,
                    strict=form.cleaned_data["strict"],
                )
                return HttpResponseRedirect(
                    reverse("admin:scores_profileimport_change", args=[profile_import.pk])
                )
        else:
            form = ProfileImportForm()
        context = {
            **self._page_context(request, _("Import credit profiles")),
            "form": form,
            "direct": direct,
            "filename_field": FILENAME_FIELD,
            "strict_field": STRICT_FIELD,
            "columns": ", ".join(COLUMNS),
            "dictionary": column_dictionary(),
            "max_size": settings.PROFILE_IMPORT_MAX_UPLOAD_BYTES,
        }
        response = TemplateResponse(request, "admin/scores/profileimport/upload.html", context)
        if direct is not None:
            # The form is sent to the bucket: the CSP's form-action admits its origin here.
            target = urlsplit(direct.url)
            response._csp_update = {"form-action": [f"{target.scheme}://{target.netloc}"]}  # type: ignore[attr-defined]
        return response

    def template_view(self, request: HttpRequest) -> HttpResponseBase:
        """A profile file to fill in: the header and one example row (the published example
        CPF's profile), as the import reads it."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="modelo-perfis.csv"'
        writer = csv.writer(response, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerow(TEMPLATE_EXAMPLE_ROW)
        return response

    def uploaded_view(self, request: HttpRequest) -> HttpResponseBase:
        """Where S3 sends the browser back after a direct upload: record the file and start
        checking it, then show the import's page."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        try:
            profile_import = profile_import_start_uploaded(
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
                token=request.GET.get("token", ""),
                key=request.GET.get("key", ""),
            )
        except UploadNotRecognised:
            self.message_user(
                request,
                gettext("This upload is not recognised; upload the file again."),
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:scores_profileimport_add"))
        return HttpResponseRedirect(
            reverse("admin:scores_profileimport_change", args=[profile_import.pk])
        )

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """One import: its progress while a phase runs, the preview once checked (with the
        confirm button), the result once imported, and the record (who, when, which file)."""
        profile_import = self.get_object(request, object_id)
        if profile_import is None:
            raise Http404
        if not self.has_view_permission(request, profile_import):
            raise PermissionDenied
        confirmable = (
            profile_import.status == ProfileImport.Status.CHECKED
            and profile_import.source == ProfileImport.Source.ADMIN
            and request.user.has_perm(IMPORT_PERMISSION)
        )
        context = {
            **self._page_context(request, str(profile_import)),
            "original": profile_import,
            "record": profile_import,
            "confirmable": confirmable,
            "refused_if_confirmed": profile_import.strict and profile_import.bad_rows > 0,
            "errors_not_shown": max(0, profile_import.bad_rows - len(profile_import.row_errors)),
            "refresh_seconds": (
                _PROGRESS_REFRESH_SECONDS
                if profile_import.running and not profile_import.stalled
                else None
            ),
            "resumable": profile_import.stalled and request.user.has_perm(IMPORT_PERMISSION),
        }
        return TemplateResponse(request, "admin/scores/profileimport/import.html", context)

    @method_decorator(require_POST)
    def confirm_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Import a checked file (strict and with bad rows: refused, recorded as such)."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        profile_import = self.get_object(request, object_id)
        if profile_import is None:
            raise Http404
        try:
            confirmed = profile_import_confirm(
                profile_import=profile_import,
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
            )
        except ImportNotConfirmable:
            self.message_user(
                request,
                gettext("This import cannot be confirmed: it is not waiting for confirmation."),
                messages.ERROR,
            )
        else:
            if confirmed.status == ProfileImport.Status.REFUSED:
                self.message_user(
                    request,
                    gettext("Strict import refused: the file has bad rows, nothing was imported."),
                    messages.WARNING,
                )
        return HttpResponseRedirect(
            reverse("admin:scores_profileimport_change", args=[profile_import.pk])
        )

    @method_decorator(require_POST)
    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Start a stalled import's task again (its page offers this once it has made no
        progress for a while)."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        profile_import = self.get_object(request, object_id)
        if profile_import is None:
            raise Http404
        try:
            profile_import_resume(profile_import=profile_import)
        except ImportNotResumable:
            self.message_user(
                request,
                gettext("This import is not stalled: it is finished or still making progress."),
                messages.ERROR,
            )
        return HttpResponseRedirect(
            reverse("admin:scores_profileimport_change", args=[profile_import.pk])
        )
