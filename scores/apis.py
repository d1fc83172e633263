"""The score API (SPEC §7): one APIView per operation, thin, audited.

Their OpenAPI documentation is in scores/openapi.py (why: docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
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
from scoreportal.client_ip import client_ip
from scores import score_cache
from scores.constants import DEFAULT_PURPOSE, Endpoint, Purpose
from scores.cpf import Cpf, InvalidCpf
from scores.exceptions import AuditUnavailable
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


@dataclass(frozen=True, slots=True)
class Answer:
    """What a consultation endpoint answered, and what its audit rows must say about it."""

    response: HttpResponseBase
    purpose: str
    consulted: Sequence[ConsultedCpf]


class ConsultationApi(APIView):
    """Base for endpoints that hand out personal data: every answer leaves audit rows.

    A subclass implements `consult`, which returns the response together with what was
    answered for each CPF. Whatever happens before it can answer (a missing key, a missing
    scope, a body that does not parse), `handle_exception` records the failure. The audit
    rows are written before the response leaves; if they cannot be, the client gets 503
    and no score.
    """

    endpoint: ClassVar[Endpoint]

    def consult(self, request: Request) -> Answer:
        raise NotImplementedError

    def post(self, request: Request) -> HttpResponseBase:
        return self._recorded(request, self.consult(request))

    # DRF accepts any HttpResponseBase here; its stubs say Response. Our one error builder
    # (error_response) makes a JsonResponse, used both here and by the middleware.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        error = as_api_error(exc)
        response = super().handle_exception(error)
        failure = ConsultedCpf(cpf=None, http_status=response.status_code, error=error.code)
        return self._recorded(self.request, Answer(response, purpose="", consulted=[failure]))

    def error_answer(self, request: Request, exc: Exception, *, cpf: Cpf, purpose: str) -> Answer:
        """The answer for a failure once the CPF is known: its audit row names the CPF."""
        error = as_api_error(exc)
        response = error_response(
            error.code, request=request, message=error.message, headers=error.headers
        )
        consulted = ConsultedCpf(cpf=cpf, http_status=error.status_code, error=error.code)
        return Answer(response, purpose=purpose, consulted=[consulted])

    def _recorded(self, request: Request, answer: Answer) -> HttpResponseBase:
        api_key = _authenticated_key(request)
        presented_prefix = "" if api_key else presented_key_prefix(request)
        first = answer.consulted[0]
        context = context_of(request)
        if context is not None:
            context.log_fields.update(
                organization=api_key.organization.slug if api_key else None,
                key_prefix=api_key.prefix if api_key else presented_prefix or None,
                outcome=first.error or "scored",
                source=first.served.source if first.served else None,
            )
        try:
            consultations_record(
                request=ConsultationRequest(
                    request_id=request_id_of(request),
                    endpoint=self.endpoint,
                    api_key=api_key,
                    presented_key_prefix=presented_prefix,
                    client_ip=client_ip(request),
                    purpose=answer.purpose,
                    latency_ms=context.elapsed_ms() if context else 0,
                ),
                consulted=answer.consulted,
            )
        except AuditUnavailable as exc:
            logger.error("audit write failed; answering 503 without the score", exc_info=exc)
            error = as_api_error(exc)
            if context is not None:
                context.log_fields.update(outcome=error.code, source=None)
            return error_response(error.code, request=request, message=error.message)
        return answer.response


def _authenticated_key(request: Request) -> ApiKey | None:
    try:
        auth = request.auth
    except ApiError:  # authentication had not run yet, and fails now
        return None
    return auth if isinstance(auth, ApiKey) else None


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

    class OutputSerializer(serializers.Serializer[Any]):
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
        request_id = serializers.CharField()

    def consult(self, request: Request) -> Answer:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cpf: Cpf = serializer.validated_data["cpf"]
        purpose: str = serializer.validated_data["purpose"]
        try:
            served = score_get(cpf=cpf)
        except Exception as exc:  # recorded with the CPF, whatever it was
            return self.error_answer(request, exc, cpf=cpf, purpose=purpose)
        body = self.OutputSerializer(
            {**_as_dict(served), "request_id": request_id_of(request)}
        ).data
        return Answer(
            Response(body),
            purpose=purpose,
            consulted=[ConsultedCpf(cpf=cpf, http_status=200, served=served)],
        )


def _as_dict(served: ServedScore) -> dict[str, Any]:
    """The served score's fields, one level deep (the serializer formats each value)."""
    return {field.name: getattr(served, field.name) for field in dataclasses.fields(served)}


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
