"""Routes that fail on purpose, to prove no failure escapes the error envelope."""

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class BrokenApi(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        raise RuntimeError("bug with 529.982.247-25 in its message")


class DatabaseDownApi(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        raise DatabaseError("connection refused")


def broken_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("bug outside DRF")


urlpatterns = [
    path("broken-api", BrokenApi.as_view()),
    path("database-down", DatabaseDownApi.as_view()),
    path("broken-view", broken_view),
    path("", include("scoreportal.urls")),
]
