"""The score API (SPEC §7): one APIView per operation, thin, audited.

Their OpenAPI documentation is in scores/openapi.py, loaded only when a schema is made.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC
from typing import Any, ClassVar

from django.db import DatabaseError, connection
from django.http import HttpResponseBase
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import presented_key_prefix
from accounts.constants import Scope
from accounts.models import ApiKey
from scoreportal.api.context import context_of, request_id_of
from scoreportal.api.errors import ApiError, ErrorCode, as_api_error, error_response
from scoreportal.api.serializers import StrictInputSerializer
from scores import score_cache
from scores.constants import DEFAULT_PURPOSE, Endpoint, Purpose
from scores.cpf import Cpf, InvalidCpf
from scores.services import (
    ConsultationRequest,
    ConsultedCpf,
    ServedScore,
    consultations_record,
    score_get,
)

logger = logging.getLogger(__name__)


class CpfField(serializers.Field):  # type: ignore[type-arg]
    """A CPF in any accepted form (SPEC §4); every failure is `invalid_cpf`."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is serializers.empty:
            return super().run_validation(data)  # "required" -> invalid_request
        return self.to_internal_value(data)

    def to_internal_value(self, data: Any) -> Cpf:
        try:
            return Cpf.parse(data)
        except InvalidCpf as exc:
            raise serializers.ValidationError(str(exc), code=ErrorCode.INVALID_CPF) from None

    def to_representation(self, value: Cpf) -> str:
        return value.masked


_PURPOSE_ERROR = f"Not a valid purpose; use one of: {', '.join(Purpose.values)}."


class ConsultationApi(APIView):
    """Base for endpoints that hand out personal data: each request leaves audit rows.

    Subclasses set `endpoint` and, while handling, append what they answered for each CPF
    to `self.consulted` and the purpose to `self.purpose`. Whatever happens (bad input,
    failed authentication, an unknown CPF), `finalize_response` records the request
    before the response leaves; if the audit cannot be written, the client gets 503 and
    no score.
    """

    endpoint: ClassVar[Endpoint]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.consulted: list[ConsultedCpf] = []
        self.purpose = ""
        self.error: ApiError | None = None
        super().initial(request, *args, **kwargs)

    # DRF accepts any HttpResponseBase here; its stubs say Response. Our one error builder
    # (error_response) makes a JsonResponse, used both here and by the middleware.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        self.error = as_api_error(exc)
        return super().handle_exception(self.error)

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        try:
            self._record(request, response.status_code)
        except DatabaseError:
            logger.exception("audit write failed; answering 503 without the score")
            response = error_response(
                ErrorCode.SERVICE_UNAVAILABLE,
                request=request,
                message="The query could not be recorded, so no score is served. Retry later.",
            )
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]

    def _record(self, request: Request, status: int) -> None:
        consulted = getattr(self, "consulted", None) or [
            ConsultedCpf(cpf=None, http_status=status, error=self._error_code())
        ]
        api_key = _authenticated_key(request)
        presented_prefix = "" if api_key else presented_key_prefix(request)
        context = context_of(request)
        if context is not None:
            context.log_fields.update(
                organization=api_key.organization.slug if api_key else None,
                key_prefix=api_key.prefix if api_key else presented_prefix or None,
                outcome=self._error_code() or "scored",
                source=consulted[0].served.source if consulted[0].served else None,
            )
        consultations_record(
            request=ConsultationRequest(
                request_id=request_id_of(request),
                endpoint=self.endpoint,
                api_key=api_key,
                presented_key_prefix=presented_prefix,
                client_ip=_client_ip(request),
                purpose=getattr(self, "purpose", ""),
                latency_ms=context.elapsed_ms() if context else 0,
            ),
            consulted=consulted,
        )

    def _error_code(self) -> ErrorCode | None:
        error = getattr(self, "error", None)
        return error.code if error else None


def _authenticated_key(request: Request) -> ApiKey | None:
    try:
        auth = request.auth
    except ApiError:  # authentication had not run yet, and fails now
        return None
    return auth if isinstance(auth, ApiKey) else None


def _client_ip(request: Request) -> str | None:
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class ScoreQueryApi(ConsultationApi):
    """POST /api/v1/scores: the score of one CPF."""

    endpoint = Endpoint.SCORE
    required_scopes = (Scope.SCORES_READ,)
    http_method_names = ["post"]  # no OPTIONS either: every answer here is a consultation

    class InputSerializer(StrictInputSerializer):
        cpf = CpfField(help_text="11 digits, bare or formatted (000.000.000-00).")
        purpose = serializers.ChoiceField(
            choices=Purpose.choices,
            default=DEFAULT_PURPOSE,
            error_messages={"invalid_choice": _PURPOSE_ERROR},
        )

    class OutputSerializer(serializers.Serializer[ServedScore]):
        class ReasonSerializer(serializers.Serializer[Any]):
            code = serializers.CharField()
            description = serializers.CharField()

        cpf = CpfField(help_text="Masked: ***.982.247-**")
        score = serializers.IntegerField(min_value=0, max_value=1000)
        band = serializers.CharField()
        probability_of_default = serializers.FloatField()
        reasons = ReasonSerializer(many=True)
        model_version = serializers.CharField()
        computed_at = serializers.DateTimeField(default_timezone=UTC)
        # Declared fields are popped by DRF's metaclass; this does not shadow Field.source.
        source = serializers.CharField()  # type: ignore[assignment]

    # One instance of each per process. Building a serializer deep-copies all its fields,
    # about a fifth of this view's CPU time (make bench); run_validation() and
    # to_representation() keep no per-request state, so sharing them is safe.
    input_serializer = InputSerializer()
    output_serializer = OutputSerializer()

    def post(self, request: Request) -> Response:
        validated = self.input_serializer.run_validation(request.data)
        cpf: Cpf = validated["cpf"]
        self.purpose = validated["purpose"]
        try:
            served = score_get(cpf=cpf)
        except Exception as exc:
            error = as_api_error(exc)
            self.consulted.append(
                ConsultedCpf(cpf=cpf, http_status=error.status_code, error=error.code)
            )
            raise error from exc
        self.consulted.append(ConsultedCpf(cpf=cpf, http_status=200, served=served))
        body = self.output_serializer.to_representation(served)
        return Response({**body, "request_id": request_id_of(request)})


class HealthApi(APIView):
    """GET /api/v1/health: for the load balancer and Zappa's keep-warm. No internals."""

    authentication_classes = ()
    permission_classes = ()
    http_method_names = ["get", "head"]

    def get(self, request: Request) -> Response:
        database_ok = _database_ok()
        cache_ok = score_cache.ping()
        # Without the cache scores are still served (computed); without the database not.
        status = "ok" if database_ok and cache_ok else "degraded" if database_ok else "unavailable"
        return Response(
            {
                "status": status,
                "database": "ok" if database_ok else "unavailable",
                "score_cache": "ok" if cache_ok else "unavailable",
            },
            status=200 if database_ok else 503,
        )


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("health check: database unavailable", exc_info=True)
        return False
    return True
