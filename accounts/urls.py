"""A new staff member's first password (manage.py create_staff_user), under the admin's
address: the link's landing page, then Django's own form and confirmation."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, re_path, reverse_lazy

from accounts import views

urlpatterns = [
    path("", views.password_set_link, name="admin_password_set"),
    path(
        "<uidb64>/set-password/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("password_reset_complete")
        ),
        # Django's view reads its token from the session at this fixed word.
        {"token": auth_views.PasswordResetConfirmView.reset_url_token},
        name="admin_password_set_form",
    ),
    path(
        "done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    re_path(r"^(?P<rest>.+)$", views.password_set_unknown),
]
