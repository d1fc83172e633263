"""Production routes plus the framework floor: never part of scoreportal.urls."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scoreportal.urls import urlpatterns as production_urlpatterns


class FrameworkFloorApi(APIView):
    """A bare DRF view returning a constant body: what any request costs before our code."""

    authentication_classes = ()
    permission_classes = ()

    def post(self, request: Request) -> Response:
        return Response({"status": "ok"})


urlpatterns = [path("bench/floor", FrameworkFloorApi.as_view()), *production_urlpatterns]
