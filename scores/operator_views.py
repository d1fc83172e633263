"""The credit data operators' pages in the admin (issue 14): importing a CSV file (upload,
preview, confirm, progress, result), the shipped scorecards, and invalidating every cached
score.

Thin views, like scores/admin_views.py: forms validate, services do the work, selectors
read. Each is reached through its ModelAdmin's URLs (scores/admin.py), so the admin's
sign-in policy and the roles' permissions apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scores.exceptions import (
    ImportNotConfirmable,
    ImportNotResumable,
    ScoreCacheUnavailable,
    UploadNotRecognised,
)
from scores.forms import ProfileImportForm
from scores.models import ProfileImport
from scores.profile_import import COLUMNS
from scores.selectors import active_scorecard, shipped_scorecards
from scores.services import (
    profile_import_confirm,
    profile_import_direct_upload,
    profile_import_resume,
    profile_import_start,
    profile_import_start_uploaded,
    scores_invalidate_all,
)
from scores.services.profile_imports import FILENAME_FIELD, STRICT_FIELD

if TYPE_CHECKING:
    from scores.admin import CreditProfileAdmin, ProfileImportAdmin, ScorecardVersionAdmin

IMPORT_PERMISSION = "scores.import_creditprofile"
INVALIDATE_PERMISSION = "scores.invalidate_cached_scores"
# While a check or an import runs, its page reloads itself this often (a <meta> refresh:
# no script needed under the CSP).
_PROGRESS_REFRESH_SECONDS = 2


def _context(request: HttpRequest, model_admin: Any, title: Any) -> dict[str, Any]:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
    }


# ---------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------
def profile_import_upload_view(
    request: HttpRequest, model_admin: ProfileImportAdmin
) -> HttpResponseBase:
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
            return_url=request.build_absolute_uri(reverse("admin:scores_profileimport_uploaded")),
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
        **_context(request, model_admin, _("Import credit profiles")),
        "form": form,
        "direct": direct,
        "filename_field": FILENAME_FIELD,
        "strict_field": STRICT_FIELD,
        "columns": ",".join(COLUMNS),
        "max_size": settings.PROFILE_IMPORT_MAX_UPLOAD_BYTES,
    }
    response = TemplateResponse(request, "admin/scores/profileimport/upload.html", context)
    if direct is not None:
        # The form is sent to the bucket: the CSP's form-action admits its origin here.
        target = urlsplit(direct.url)
        response._csp_update = {"form-action": [f"{target.scheme}://{target.netloc}"]}  # type: ignore[attr-defined]
    return response


def profile_import_uploaded_view(
    request: HttpRequest, model_admin: ProfileImportAdmin
) -> HttpResponseBase:
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
        model_admin.message_user(
            request,
            gettext("This upload is not recognised; upload the file again."),
            messages.ERROR,
        )
        return HttpResponseRedirect(reverse("admin:scores_profileimport_add"))
    return HttpResponseRedirect(
        reverse("admin:scores_profileimport_change", args=[profile_import.pk])
    )


def profile_import_page_view(
    request: HttpRequest, model_admin: ProfileImportAdmin, object_id: str
) -> HttpResponseBase:
    """One import: its progress while a phase runs, the preview once checked (with the
    confirm button), the result once imported, and the record (who, when, which file)."""
    profile_import = model_admin.get_object(request, object_id)
    if profile_import is None:
        raise Http404
    if not model_admin.has_view_permission(request, profile_import):
        raise PermissionDenied
    confirmable = (
        profile_import.status == ProfileImport.Status.CHECKED
        and profile_import.source == ProfileImport.Source.ADMIN
        and request.user.has_perm(IMPORT_PERMISSION)
    )
    context = {
        **_context(request, model_admin, str(profile_import)),
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


@require_POST
def profile_import_confirm_view(
    request: HttpRequest, model_admin: ProfileImportAdmin, object_id: str
) -> HttpResponseBase:
    """Import a checked file (strict and with bad rows: refused, recorded as such)."""
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    profile_import = model_admin.get_object(request, object_id)
    if profile_import is None:
        raise Http404
    try:
        confirmed = profile_import_confirm(
            profile_import=profile_import,
            actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
        )
    except ImportNotConfirmable:
        model_admin.message_user(
            request,
            gettext("This import cannot be confirmed: it is not waiting for confirmation."),
            messages.ERROR,
        )
    else:
        if confirmed.status == ProfileImport.Status.REFUSED:
            model_admin.message_user(
                request,
                gettext("Strict import refused: the file has bad rows, nothing was imported."),
                messages.WARNING,
            )
    return HttpResponseRedirect(
        reverse("admin:scores_profileimport_change", args=[profile_import.pk])
    )


@require_POST
def profile_import_resume_view(
    request: HttpRequest, model_admin: ProfileImportAdmin, object_id: str
) -> HttpResponseBase:
    """Start a stalled import's task again (its page offers this once it has made no
    progress for a while)."""
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    profile_import = model_admin.get_object(request, object_id)
    if profile_import is None:
        raise Http404
    try:
        profile_import_resume(profile_import=profile_import)
    except ImportNotResumable:
        model_admin.message_user(
            request,
            gettext("This import is not stalled: it is finished or still making progress."),
            messages.ERROR,
        )
    return HttpResponseRedirect(
        reverse("admin:scores_profileimport_change", args=[profile_import.pk])
    )


# ---------------------------------------------------------------------------------------
# Scorecards
# ---------------------------------------------------------------------------------------
def scorecards_view(request: HttpRequest, model_admin: ScorecardVersionAdmin) -> HttpResponseBase:
    """Every shipped scorecard, read-only: its scaling, characteristics, bins and points,
    and reason texts in both languages; the active one (SCORECARD_VERSION) marked."""
    context = {
        **_context(request, model_admin, _("Scorecards")),
        "scorecards": [
            (scorecard, [(c, c.descriptions["pt-BR"]) for c in scorecard.characteristics])
            for scorecard in shipped_scorecards()
        ],
        "active_version": active_scorecard().version,
        "configured_version": settings.SCORECARD_VERSION,
    }
    return TemplateResponse(request, "admin/scores/scorecardversion/scorecards.html", context)


# ---------------------------------------------------------------------------------------
# Cache control
# ---------------------------------------------------------------------------------------
def cached_scores_invalidate_all_view(
    request: HttpRequest, model_admin: CreditProfileAdmin
) -> HttpResponseBase:
    """A confirmation page; on its POST, every cached score becomes a miss."""
    if not request.user.has_perm(INVALIDATE_PERMISSION):
        raise PermissionDenied
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        try:
            scores_invalidate_all(patient=False)
        except ScoreCacheUnavailable:
            model_admin.message_user(
                request,
                gettext(
                    "The score cache could not be reached: nothing was invalidated. "
                    "Try again in a moment."
                ),
                messages.ERROR,
            )
        else:
            model_admin.message_user(
                request, gettext("Every cached score was invalidated."), messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:scores_creditprofile_changelist"))
    context = _context(request, model_admin, _("Invalidate all cached scores"))
    return TemplateResponse(request, "admin/scores/creditprofile/invalidate_all.html", context)
