"""The score API: one APIView per operation, thin, audited, metered.

Their OpenAPI documentation is in scores/api/openapi.py (why: docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.db import DatabaseError, connection
from django.http import HttpResponseBase
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import presented_key_prefix
from accounts.constants import DEFAULT_PURPOSE, Purpose, Scope
from accounts.exceptions import ApiKeyRefused, LimitExceeded
from accounts.models import ApiKey
from accounts.rate_limit_fields import rate_limit_fields
from accounts.rate_limits import Usage
from accounts.services import (
    Metered,
    api_key_announcement_key,
    api_key_charge,
    api_key_confirm,
    api_key_usage_get,
)
from scoreportal.api.context import context_of, request_id_of
from scoreportal.api.errors import ApiError, as_api_error, error_response
from scoreportal.api.parsers import request_data
from scoreportal.api.serializers import StrictInputSerializer
from scoreportal.client_ip import client_ip
from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError
from scores.cache import score_cache
from scores.constants import (
    BATCH_MAX_CPFS,
    BatchItemStatus,
    Endpoint,
    ScoreSource,
)
from scores.core.cpf import Cpf, InvalidCpf
from scores.core.scorecard import Band
from scores.exceptions import AuditUnavailable
from scores.services import (
    Admission,
    ConsultationRequest,
    ConsultedCpf,
    ServedScore,
    consultations_record,
    score_get,
    scores_get,
)

logger = logging.getLogger(__name__)


class CpfField(serializers.Field):  # type: ignore[type-arg]
    """A CPF in any accepted form; every failure is `invalid_cpf`."""

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
_PURPOSE_HELP = "Why the score is consulted. Default: the API key's default purpose."


def _purpose(request: Request, validated: dict[str, Any]) -> str:
    """The purpose the request gives, else its key's default."""
    if "purpose" in validated:
        return str(validated["purpose"])
    api_key = _authenticated_key(request)
    return api_key.default_purpose if api_key else str(DEFAULT_PURPOSE)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a consultation endpoint answered, and what its audit rows must say about it."""

    response: HttpResponseBase
    purpose: str
    consulted: Sequence[ConsultedCpf]
    refused_key_organization_id: int | None = None


class KeyedApi(APIView):
    """Base for endpoints called with an API key: every answer to a request whose key is
    valid carries the key's RateLimit fields (accounts.rate_limit_fields).

    The usage comes from counting the request (`charge`) or reading it (`read_usage`);
    an answer given before either (a bad body, a missing scope) reads it then.
    """

    # The key's usage once this request counted (or read) it. A view instance serves one
    # request, its answer included, errors and all.
    usage: Usage | None = None

    def charge(self, request: Request, *, units: int) -> None:
        """Count the request against its key's limits, across every instance.

        Raises what api_key_charge raises. On return `request.auth` is the key as currently
        stored (re-read if it changed elsewhere), and it still has the view's scopes.
        """
        self._metered(request, lambda api_key: api_key_charge(api_key=api_key, units=units))
        self.check_permissions(request)

    def admission(self, request: Request, *, units: int) -> Admission:
        """What the scores must wait for: counting the request (`charge`), and the key's
        announced version read beside the cache's items (at most once a second in this
        process: api_key_announcement_key), applied once both have ended."""
        api_key = _authenticated_key(request)
        announcement = api_key_announcement_key(api_key=api_key) if api_key else None
        return Admission(
            admit=lambda: self.charge(request, units=units),
            also_read=(announcement,) if announcement else (),
            confirm=lambda items: self._confirm(request, items),
        )

    def _confirm(self, request: Request, items: Mapping[str, Mapping[str, Any]] | None) -> None:
        api_key = _authenticated_key(request)
        if api_key is None:  # refused already while counting
            return
        try:
            request.auth = api_key_confirm(api_key=api_key, items=items)
        except ApiKeyRefused:
            request.auth = None  # answered (and audited) as a refused key, without the key
            raise
        self.check_permissions(request)

    def read_usage(self, request: Request) -> Metered:
        """The key's usage now, counting nothing (raises what api_key_usage_get raises)."""
        return self._metered(request, lambda api_key: api_key_usage_get(api_key=api_key))

    def _metered(self, request: Request, meter: Callable[[ApiKey], Metered]) -> Metered:
        api_key = _authenticated_key(request)
        if api_key is None:
            raise ApiError(ErrorCode.MISSING_API_KEY)
        try:
            metered = meter(api_key)
        except LimitExceeded as exc:
            self.usage = exc.usage
            raise
        except ApiKeyRefused:
            # The key changed elsewhere and no longer authenticates: answered (and audited)
            # as a refused key, without the key.
            request.auth = None
            raise
        self.usage = metered.usage
        request.auth = metered.api_key
        return metered

    # As handle_exception below: DRF finalizes any HttpResponseBase; its stubs say Response.
    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        usage = self.usage
        api_key = _authenticated_key(request) if usage is None else None
        if api_key is not None:
            try:
                usage = api_key_usage_get(api_key=api_key).usage
            except (ApplicationError, DatabaseError):
                usage = None  # the answer is an error already; the next request will tell
        if usage is not None:
            for name, value in rate_limit_fields(usage).items():
                response[name] = value
        return response


class ConsultationApi(KeyedApi):
    """Base for endpoints that hand out personal data: every answer leaves audit rows.

    A subclass implements `consult`, which returns the response together with what was
    answered for each CPF; it charges the request to its key (`charge`) before scoring.
    Whatever happens before it can answer (a missing key, a missing scope, a body that does
    not parse), `handle_exception` records the failure. The audit rows are written before
    the response leaves, in one INSERT; if they cannot be, the client gets 503 and no score.
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
        return self._recorded(
            self.request,
            Answer(
                response,
                purpose="",
                consulted=[failure],
                refused_key_organization_id=_refused_key_organization(exc),
            ),
        )

    def error_answer(
        self, request: Request, exc: Exception, *, cpfs: Sequence[Cpf | None], purpose: str
    ) -> Answer:
        """The answer for a failure once the CPFs are known: one audit row names each."""
        error = as_api_error(exc)
        response = error_response(
            error.code, request=request, message=error.message, headers=error.headers
        )
        consulted = [
            ConsultedCpf(cpf=cpf, http_status=error.status_code, error=error.code) for cpf in cpfs
        ]
        return Answer(
            response,
            purpose=purpose,
            consulted=consulted,
            refused_key_organization_id=_refused_key_organization(exc),
        )

    def _recorded(self, request: Request, answer: Answer) -> HttpResponseBase:
        api_key = _authenticated_key(request)
        presented_prefix = "" if api_key else presented_key_prefix(request)
        first = answer.consulted[0]
        context = context_of(request)
        if context is not None:
            answered = answer.response.status_code < 400
            context.log_fields.update(
                organization=api_key.organization.slug if api_key else None,
                key_prefix=api_key.prefix if api_key else presented_prefix or None,
                outcome="scored" if answered else first.error,
                source=first.served.source if first.served and len(answer.consulted) == 1 else None,
                cpfs=len(answer.consulted),
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
                    refused_key_organization_id=answer.refused_key_organization_id,
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


def _refused_key_organization(exc: BaseException) -> int | None:
    """The organization of a key refused once its secret was verified: the refusal itself,
    or what the authentication turned into an API error."""
    for cause in (exc, exc.__cause__):
        if isinstance(cause, ApiKeyRefused):
            return cause.organization_id
    return None


def _authenticated_key(request: Request) -> ApiKey | None:
    try:
        auth = request.auth
    except ApiError:  # authentication had not run yet, and fails now
        return None
    return auth if isinstance(auth, ApiKey) else None


class ScoreSerializer(serializers.Serializer[Any]):
    """A served score, as both score endpoints answer it."""

    class ReasonSerializer(serializers.Serializer[Any]):
        code = serializers.CharField()
        description = serializers.CharField()

    cpf = CpfField(help_text="Masked: ***.982.247-**")
    score = serializers.IntegerField(min_value=0, max_value=1000)
    band = serializers.ChoiceField(choices=[band.value for band in Band])
    probability_of_default = serializers.FloatField(min_value=0, max_value=1)
    reasons = ReasonSerializer(many=True)
    model_version = serializers.CharField()
    computed_at = serializers.DateTimeField(default_timezone=UTC)
    # Declared fields are popped by DRF's metaclass; this does not shadow Field.source.
    source = serializers.ChoiceField(choices=ScoreSource.values)  # type: ignore[assignment]
    under_dispute = serializers.BooleanField(
        help_text=(
            "True while the person scored disputes information the score was computed from "
            "(Lei 12.414): the data may be corrected within ten days."
        )
    )


class ScoreQueryApi(ConsultationApi):
    """POST /api/v1/scores: the score of one CPF (1 unit of the key's limits)."""

    endpoint = Endpoint.SCORE
    required_scopes = (Scope.SCORES_READ,)
    http_method_names = ["post"]  # no OPTIONS either: every answer here is a consultation

    class InputSerializer(StrictInputSerializer):
        """The CPF to score, and why; no other field."""

        cpf = CpfField(help_text="11 digits, bare or formatted (000.000.000-00).")
        purpose = serializers.ChoiceField(
            choices=Purpose.choices,
            required=False,
            help_text=_PURPOSE_HELP,
            error_messages={"invalid_choice": _PURPOSE_ERROR},
        )

    class OutputSerializer(ScoreSerializer):
        request_id = serializers.UUIDField()

    def consult(self, request: Request) -> Answer:
        serializer = self.InputSerializer(data=request_data(request))
        serializer.is_valid(raise_exception=True)
        cpf: Cpf = serializer.validated_data["cpf"]
        purpose = _purpose(request, serializer.validated_data)
        try:
            served = score_get(
                cpf=cpf,
                admission=self.admission(request, units=1),
                organization_id=_organization_id(request),
            )
        except Exception as exc:  # recorded with the CPF, whatever it was
            return self.error_answer(request, exc, cpfs=[cpf], purpose=purpose)
        body = self.OutputSerializer(
            {**_as_dict(served), "request_id": request_id_of(request)}
        ).data
        return Answer(
            Response(body),
            purpose=purpose,
            consulted=[ConsultedCpf(cpf=cpf, http_status=200, served=served)],
        )


class ScoreBatchApi(ConsultationApi):
    """POST /api/v1/scores/batch: the scores of up to 100 CPFs, in input order.

    A batch of N costs N units of the key's limits, whatever its items turn out to be, and
    is counted before anything is scored. Each item gets a status (ok, invalid_cpf,
    no_credit_data, score_suspended) and an audit row; a CPF sent twice is answered twice,
    looked up once.
    """

    endpoint = Endpoint.SCORE_BATCH
    required_scopes = (Scope.SCORES_BATCH,)
    http_method_names = ["post"]

    class InputSerializer(StrictInputSerializer):
        """The CPFs to score, and why; no other field."""

        # Items are not validated here: an invalid CPF is an item's status, not an error.
        cpfs = serializers.ListField(
            min_length=1,
            max_length=BATCH_MAX_CPFS,
            help_text=(
                f"1 to {BATCH_MAX_CPFS} CPFs, each bare or formatted. An item that is not a "
                "valid CPF (of any JSON type) is answered with the status invalid_cpf."
            ),
            error_messages={
                "not_a_list": "Expected a list of CPFs.",
                "empty": "Send at least one CPF.",
                "min_length": "Send at least one CPF.",
                "max_length": f"A batch has at most {BATCH_MAX_CPFS} CPFs.",
            },
        )
        purpose = serializers.ChoiceField(
            choices=Purpose.choices,
            required=False,
            help_text=_PURPOSE_HELP,
            error_messages={"invalid_choice": _PURPOSE_ERROR},
        )

    class OutputSerializer(serializers.Serializer[Any]):
        class ResultSerializer(ScoreSerializer):
            """One CPF of the batch: its status; the score's fields when ok, the masked CPF
            for no_credit_data and score_suspended, a message for invalid_cpf."""

            status = serializers.ChoiceField(choices=BatchItemStatus.choices)
            message = serializers.CharField(
                required=False, help_text="Why the CPF is invalid (invalid_cpf only)."
            )

            def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
                # Status first; every other field only for the statuses that have it.
                fields = super().get_fields()
                for name, field in fields.items():
                    field.required = name == "status"
                return {"status": fields.pop("status"), **fields}

        results = ResultSerializer(many=True, help_text="One per CPF sent, in the same order.")
        request_id = serializers.UUIDField()

    def consult(self, request: Request) -> Answer:
        serializer = self.InputSerializer(data=request_data(request))
        serializer.is_valid(raise_exception=True)
        items: list[Any] = serializer.validated_data["cpfs"]
        purpose = _purpose(request, serializer.validated_data)
        parsed = [_parsed(item) for item in items]
        cpfs = [item for item in parsed if isinstance(item, Cpf)]
        try:
            served = scores_get(
                cpfs=cpfs,
                admission=self.admission(request, units=len(items)),
                organization_id=_organization_id(request),
            )
        except Exception as exc:  # every item recorded with the failure
            known = [item if isinstance(item, Cpf) else None for item in parsed]
            return self.error_answer(request, exc, cpfs=known, purpose=purpose)
        results: list[dict[str, Any]] = []
        consulted: list[ConsultedCpf] = []
        for item in parsed:
            if isinstance(item, InvalidCpf):
                results.append({"status": BatchItemStatus.INVALID_CPF, "message": str(item)})
                consulted.append(ConsultedCpf(None, 200, error=ErrorCode.INVALID_CPF))
            elif isinstance(score := served[item], ServedScore):
                results.append({"status": BatchItemStatus.OK, **_as_dict(score)})
                consulted.append(ConsultedCpf(item, 200, served=score))
            else:  # no credit data, or its score suspended
                results.append({"status": BatchItemStatus(score.value), "cpf": item})
                consulted.append(ConsultedCpf(item, 200, error=score))
        body = self.OutputSerializer(
            {"results": results, "request_id": request_id_of(request)}
        ).data
        return Answer(Response(body), purpose=purpose, consulted=consulted)


def _parsed(item: Any) -> Cpf | InvalidCpf:
    try:
        return Cpf.parse(item)
    except InvalidCpf as exc:
        return exc


def _as_dict(served: ServedScore) -> dict[str, Any]:
    """The served score's fields, one level deep (the serializer formats each value)."""
    return {field.name: getattr(served, field.name) for field in dataclasses.fields(served)}


class UsageApi(KeyedApi):
    """GET /api/v1/usage: the calling key's limits, its use of them, and when they reset.

    Any valid key; nothing personal, so not a consultation (no audit row), but logged like
    every request. It counts nothing.
    """

    required_scopes = ()
    http_method_names = ["get"]

    class OutputSerializer(serializers.Serializer[Any]):
        class KeySerializer(serializers.Serializer[Any]):
            prefix = serializers.CharField()
            name = serializers.CharField()
            organization = serializers.CharField(source="organization.slug")
            scopes = serializers.ListField(child=serializers.CharField())

        class LimitSerializer(serializers.Serializer[Any]):
            limit = serializers.IntegerField(help_text="CPFs allowed in the window.")
            used = serializers.IntegerField(help_text="CPFs counted in the window so far.")
            remaining = serializers.IntegerField()
            resets_at = serializers.DateTimeField(
                default_timezone=UTC, help_text="When the window's count restarts (UTC)."
            )
            resets_in_seconds = serializers.IntegerField()

        class DailyQuotaSerializer(LimitSerializer):
            day = serializers.DateField(help_text="The quota day (America/Sao_Paulo).")

        key = KeySerializer()
        rate_limit = LimitSerializer(help_text="CPFs per minute.")
        daily_quota = DailyQuotaSerializer(help_text="CPFs per day, São Paulo time.")
        counted = serializers.ChoiceField(
            choices=["across_instances", "this_instance_only"],
            help_text="this_instance_only while the shared counters are unavailable.",
        )
        request_id = serializers.UUIDField()

    def get(self, request: Request) -> Response:
        metered = self.read_usage(request)
        api_key, usage = metered.api_key, metered.usage
        context = context_of(request)
        if context is not None:
            context.log_fields.update(
                organization=api_key.organization.slug, key_prefix=api_key.prefix, outcome="ok"
            )
        windows = usage.windows
        body = self.OutputSerializer(
            {
                "key": api_key,
                "rate_limit": {
                    "limit": usage.limits.per_minute,
                    "used": usage.minute_used,
                    "remaining": usage.minute_remaining,
                    "resets_at": _utc(windows.minute_ends_at),
                    "resets_in_seconds": usage.minute_reset_seconds,
                },
                "daily_quota": {
                    "limit": usage.limits.per_day,
                    "used": usage.day_used,
                    "remaining": usage.day_remaining,
                    "resets_at": _utc(windows.day_ends_at),
                    "resets_in_seconds": usage.day_reset_seconds,
                    "day": windows.day,
                },
                "counted": "across_instances" if usage.shared else "this_instance_only",
                "request_id": request_id_of(request),
            }
        ).data
        return Response(body)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


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


def _organization_id(request: Request) -> int | None:
    """The organization of the request's key (for the challenger's shadow scores)."""
    return getattr(request.auth, "organization_id", None)
