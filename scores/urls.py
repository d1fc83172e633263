"""Score API routes (under /api/v1/). A trailing slash is accepted without a redirect."""

from django.urls import re_path

from scores.apis import HealthApi, ScoreQueryApi

app_name = "scores"

urlpatterns = [
    re_path(r"^scores/?$", ScoreQueryApi.as_view(), name="score-query"),
    re_path(r"^health/?$", HealthApi.as_view(), name="health"),
]
