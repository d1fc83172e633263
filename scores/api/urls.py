"""Score API routes (under /api/v1/). A trailing slash is accepted without a redirect."""

from django.urls import re_path

from scores.api.views import HealthApi, ScoreBatchApi, ScoreQueryApi, UsageApi

app_name = "scores"

urlpatterns = [
    re_path(r"^scores/?$", ScoreQueryApi.as_view(), name="score-query"),
    re_path(r"^scores/batch/?$", ScoreBatchApi.as_view(), name="score-batch"),
    re_path(r"^usage/?$", UsageApi.as_view(), name="usage"),
    re_path(r"^health/?$", HealthApi.as_view(), name="health"),
]
