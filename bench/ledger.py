"""`python -m bench.ledger` (make load): load with an audit ledger.

Drives the app under gunicorn on loopback (bench/load.py's closed loop: `--concurrency`
connections for `--duration` seconds) with the mix of requests a credit bureau gets, good
and bad, then reconciles every answer with the audit trail (scores.models.Consultation):

    valid          POST /api/v1/scores, a CPF with credit data          200
    batch          POST /api/v1/scores/batch, 10 CPFs: 7 with credit    200, a status per CPF
                   data, 2 without, 1 invalid
    invalid_cpf    a CPF whose check digits are wrong                   400 invalid_cpf
    unknown_cpf    a valid CPF without credit data                      404 no_credit_data
    no_key         no API key                                           401 missing_api_key
    bad_key        a key never issued, or a real prefix, wrong secret   401 invalid_api_key
    revoked_key    a revoked key                                        401 api_key_revoked
    unknown_path   POST /api/v1/nope                                    404 not_found
    rate_limited   a key that may score LIMITED_PER_MINUTE CPFs a minute  200 or 429 rate_limited

Each answer must be one its kind may get, none may be a 5xx or missing, and the audit rows
must be exactly those the answers call for, found by the answer's X-Request-ID:

- an endpoint that is not a consultation (an unknown path) writes none;
- a 503 writes none (it is what the score endpoints answer when the rows cannot be written);
- a batch answered 200, or refused by a limit, writes one row per CPF sent: for a 200 with
  each item's outcome (scored, invalid_cpf, no_credit_data) and HTTP status 200;
- any other answer of the score endpoints writes one row, with the answer's error code (or
  `scored`) and status.

Rows the answers do not call for (lost), rows beyond them (duplicated) and rows written
during the run whose request id no answer carries (orphans) are counted; the run fails
unless all are zero. Run it alone on its database: another load's rows would be orphans.

Then, in-process, the DynamoDB read and write units of each kind of score request, from the
items its calls read and write (bench/capacity_units.py; `--skip-units` to skip).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.load import Drive, Exchange, Planned, drive, percentile
from scores.core.cpf import Cpf

RESULTS = Path(__file__).resolve().parent / "results"
BATCH_PATH = "/api/v1/scores/batch"
SCORE_PATH = "/api/v1/scores"
# The audit's endpoint value for each consultation path (scores.constants.Endpoint).
AUDITED_ENDPOINTS = {SCORE_PATH: "scores", BATCH_PATH: "scores_batch"}
LIMITED_PER_MINUTE = 5
UNLIMITED = 10**9
OK = "ok"

# An audit row as the ledger compares it: (endpoint, outcome, HTTP status).
Row = tuple[str, str, int]


# ==============================================================================
# Who and what the load asks about
# ==============================================================================
@dataclass(frozen=True)
class Population:
    """Keys of each sort, and CPFs with and without credit data."""

    key: str  # scores:read and scores:batch, no practical limits
    revoked_key: str
    limited_key: str  # scores:read, LIMITED_PER_MINUTE CPFs a minute
    known_cpfs: list[str]
    unknown_cpfs: list[str]  # valid, without a credit profile


def populate(*, profiles: int, unknown: int = 50, seed: int = 11) -> Population:
    """Issue the keys (through the services, as key managers do), import `profiles` demo
    credit profiles (the import's CSV path) and pick valid CPFs that have none. Needs
    Django set up, on the database the server uses."""
    import csv

    from django.conf import settings

    from accounts.constants import Scope
    from accounts.models import Organization
    from accounts.services import api_key_issue, api_key_revoke
    from scores.management.commands.seed_demo import demo_profiles_csv, demo_profiles_import
    from scores.models import CreditProfile

    organization, _ = Organization.objects.get_or_create(
        slug="load", defaults={"name": "Load with an audit ledger"}
    )
    _, key = api_key_issue(
        organization=organization,
        name="load",
        scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH],
        rate_limit_per_minute=UNLIMITED,
        daily_quota=UNLIMITED,
    )
    revoked, revoked_key = api_key_issue(organization=organization, name="load, revoked")
    api_key_revoke(api_key=revoked)
    _, limited_key = api_key_issue(
        organization=organization,
        name=f"load, {LIMITED_PER_MINUTE} a minute",
        rate_limit_per_minute=LIMITED_PER_MINUTE,
        daily_quota=UNLIMITED,
    )
    data = demo_profiles_csv(profiles)
    demo_profiles_import(data)
    data.seek(0)
    known = [row["cpf"] for row in csv.DictReader(data)]
    rng = random.Random(seed)
    candidates = {_random_cpf(rng) for _ in range(unknown * 2)} - {Cpf.parse(cpf) for cpf in known}
    hashes = {cpf.lookup_hash(settings.CPF_HASH_KEY): cpf for cpf in candidates}
    with_profile = set(
        CreditProfile.objects.filter(cpf_hash__in=hashes).values_list("cpf_hash", flat=True)
    )
    unknown_cpfs = sorted(cpf.formatted for h, cpf in hashes.items() if h not in with_profile)
    return Population(key, revoked_key, limited_key, known, unknown_cpfs[:unknown])


# ==============================================================================
# The mix
# ==============================================================================
def _random_cpf(rng: random.Random) -> Cpf:
    while True:
        try:
            return Cpf.from_base(f"{rng.randrange(10**8, 10**9):09d}")
        except ValueError:
            continue  # a repeated-digit base


def _invalid_cpf(rng: random.Random) -> str:
    """Eleven digits whose last check digit is wrong (never a valid CPF)."""
    valid = _random_cpf(rng).digits
    return valid[:10] + str((int(valid[10]) + 1 + rng.randrange(9)) % 10)


def _post(path: str, key: str | None, body: dict[str, Any]) -> Planned:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    return Planned("POST", path, headers, json.dumps(body).encode())


def _bad_key(population: Population, rng: random.Random) -> str:
    if rng.random() < 0.5:  # a prefix never issued
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        return "".join(rng.choices(alphabet, k=8)) + "." + "".join(rng.choices(alphabet, k=32))
    prefix = population.key.split(".", 1)[0]  # a real prefix with a wrong secret
    return prefix + "." + "x" * 32


def _batch(population: Population, rng: random.Random) -> dict[str, Any]:
    cpfs = [
        *rng.sample(population.known_cpfs, 7),
        *rng.sample(population.unknown_cpfs, 2),
        _invalid_cpf(rng),
    ]
    rng.shuffle(cpfs)
    return {"cpfs": cpfs}


@dataclass(frozen=True)
class Kind:
    """A sort of request: how often it is sent, how it is made, what it may be answered
    ((status, error code or "ok"))."""

    name: str
    weight: int
    make: Callable[[Population, random.Random], Planned]
    answers: frozenset[tuple[int, str]]


KINDS = (
    Kind(
        "valid",
        35,
        lambda p, rng: _post(SCORE_PATH, p.key, {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(200, OK)}),
    ),
    Kind(
        "batch",
        10,
        lambda p, rng: _post(BATCH_PATH, p.key, _batch(p, rng)),
        frozenset({(200, OK)}),
    ),
    Kind(
        "invalid_cpf",
        8,
        lambda p, rng: _post(SCORE_PATH, p.key, {"cpf": _invalid_cpf(rng)}),
        frozenset({(400, "invalid_cpf")}),
    ),
    Kind(
        "unknown_cpf",
        8,
        lambda p, rng: _post(SCORE_PATH, p.key, {"cpf": rng.choice(p.unknown_cpfs)}),
        frozenset({(404, "no_credit_data")}),
    ),
    Kind(
        "no_key",
        6,
        lambda p, rng: _post(SCORE_PATH, None, {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(401, "missing_api_key")}),
    ),
    Kind(
        "bad_key",
        6,
        lambda p, rng: _post(SCORE_PATH, _bad_key(p, rng), {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(401, "invalid_api_key")}),
    ),
    Kind(
        "revoked_key",
        6,
        lambda p, rng: _post(SCORE_PATH, p.revoked_key, {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(401, "api_key_revoked")}),
    ),
    Kind(
        "unknown_path",
        6,
        lambda p, rng: _post("/api/v1/nope", p.key, {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(404, "not_found")}),
    ),
    Kind(
        "rate_limited",
        15,
        lambda p, rng: _post(SCORE_PATH, p.limited_key, {"cpf": rng.choice(p.known_cpfs)}),
        frozenset({(200, OK), (429, "rate_limited")}),
    ),
)


class Mix:
    """The n-th request of a run: its kind drawn by weight, then made, both from a random
    generator seeded with (seed, n), so a run can be told again from its numbers."""

    def __init__(self, population: Population, *, seed: int = 2026) -> None:
        self.population = population
        self.seed = seed

    def kind(self, n: int) -> Kind:
        rng = random.Random(self.seed * 1_000_003 + n)
        return rng.choices(KINDS, weights=[kind.weight for kind in KINDS])[0]

    def request(self, n: int) -> Planned:
        return self.kind(n).make(self.population, random.Random(self.seed * 7_919 + n))


# ==============================================================================
# Reconciliation
# ==============================================================================
def answer_of(exchange: Exchange) -> tuple[int, str, dict[str, Any]]:
    """(status, error code or "ok", body) of an exchange."""
    try:
        body = json.loads(exchange.content) if exchange.content else {}
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code")) if isinstance(error, dict) else OK
    return exchange.status, code, body if isinstance(body, dict) else {}


def expected_rows(exchange: Exchange) -> Counter[Row]:
    """The audit rows an answer calls for (the rules in this module's docstring)."""
    status, code, body = answer_of(exchange)
    endpoint = AUDITED_ENDPOINTS.get(exchange.request.path)
    if endpoint is None or status in (0, 503):
        return Counter()
    if exchange.request.path == BATCH_PATH and status in (200, 429):
        if status == 429:
            sent = json.loads(exchange.request.body or b"{}").get("cpfs", [])
            return Counter({(endpoint, code, status): len(sent)})
        outcomes = {
            "ok": "scored",
            "invalid_cpf": "invalid_cpf",
            "no_credit_data": "no_credit_data",
        }
        return Counter((endpoint, outcomes[item["status"]], 200) for item in body["results"])
    return Counter({(endpoint, "scored" if code == OK else code, status): 1})


@dataclass
class KindFigures:
    """What one kind of request got: answers by (status, code), latency percentiles."""

    requests: int
    answers: dict[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class Ledger:
    """The run's answers reconciled with the audit trail."""

    requests: int
    seconds: float
    server_cpu_seconds: float | None  # the gunicorn workers', when measured
    p50_ms: float
    p95_ms: float
    p99_ms: float
    kinds: dict[str, KindFigures]
    no_answer: int
    server_errors: int
    unexpected: list[str]
    without_request_id: int
    repeated_request_ids: int
    # (endpoint, outcome, status) -> [rows the answers call for, rows found for them]
    table: dict[str, list[int]]
    lost: int
    duplicated: int
    orphans: int

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")

    @property
    def ok(self) -> bool:
        return not (
            self.no_answer
            or self.server_errors
            or self.unexpected
            or self.without_request_id
            or self.repeated_request_ids
            or self.lost
            or self.duplicated
            or self.orphans
        )


def audit_rows(*, since: datetime, until: datetime) -> list[tuple[str, Row]]:
    """Every audit row written in [since, until], as (request id, row)."""
    from scores.models import Consultation

    rows = Consultation.objects.filter(occurred_at__gte=since, occurred_at__lte=until)
    return [
        (str(request_id), (endpoint, outcome, status))
        for request_id, endpoint, outcome, status in rows.values_list(
            "request_id", "endpoint", "outcome", "http_status"
        ).iterator(chunk_size=5000)
    ]


def reconcile(driven: Drive, mix: Mix, rows: Iterable[tuple[str, Row]]) -> Ledger:
    """Compare each answer with what its kind may get, and the audit rows with the answers."""
    by_request: dict[str, Counter[Row]] = {}
    for request_id, row in rows:
        by_request.setdefault(request_id, Counter())[row] += 1
    expected_total: Counter[Row] = Counter()
    found_total: Counter[Row] = Counter()
    lost = duplicated = no_answer = server_errors = without_id = repeated = 0
    unexpected: list[str] = []
    seen: set[str] = set()
    latencies: dict[str, list[float]] = {kind.name: [] for kind in KINDS}
    answers: dict[str, Counter[str]] = {kind.name: Counter() for kind in KINDS}
    for exchange in driven.exchanges:
        kind = mix.kind(exchange.n)
        status, code, _ = answer_of(exchange)
        latencies[kind.name].append(exchange.latency_ms)
        answers[kind.name][f"{status} {code}"] += 1
        if status == 0:
            no_answer += 1
            continue
        if status >= 500:
            server_errors += 1
        if (status, code) not in kind.answers:
            unexpected.append(f"{kind.name}: {status} {code}")
        request_id = exchange.headers.get("X-Request-ID", "")
        if not request_id:
            without_id += 1
            continue
        if request_id in seen:
            repeated += 1
        seen.add(request_id)
        expected = expected_rows(exchange)
        found = by_request.get(request_id, Counter())
        expected_total.update(expected)
        found_total.update(found)
        lost += sum((expected - found).values())
        duplicated += sum((found - expected).values())
    orphans = sum(sum(counts.values()) for rid, counts in by_request.items() if rid not in seen)
    everything = [exchange.latency_ms for exchange in driven.exchanges]
    return Ledger(
        requests=len(driven.exchanges),
        seconds=driven.seconds,
        server_cpu_seconds=driven.server_cpu_seconds,
        p50_ms=round(percentile(everything, 0.50), 1),
        p95_ms=round(percentile(everything, 0.95), 1),
        p99_ms=round(percentile(everything, 0.99), 1),
        kinds={
            name: KindFigures(
                requests=len(values),
                answers=dict(sorted(answers[name].items())),
                p50_ms=round(percentile(values, 0.50), 1),
                p95_ms=round(percentile(values, 0.95), 1),
                p99_ms=round(percentile(values, 0.99), 1),
            )
            for name, values in latencies.items()
        },
        no_answer=no_answer,
        server_errors=server_errors,
        unexpected=sorted(set(unexpected)),
        without_request_id=without_id,
        repeated_request_ids=repeated,
        table={
            " ".join(map(str, row)): [expected_total[row], found_total[row]]
            for row in sorted(expected_total.keys() | found_total.keys())
        },
        lost=lost,
        duplicated=duplicated,
        orphans=orphans,
    )


def describe(ledger: Ledger) -> str:
    """The ledger as the tables `make load` prints."""
    cpu = (
        f"; server CPU {ledger.server_cpu_seconds * 1000 / ledger.requests:.1f} ms a request"
        if ledger.server_cpu_seconds is not None and ledger.requests
        else ""
    )
    lines = [
        f"{ledger.requests} requests in {ledger.seconds:.1f} s: {ledger.throughput_rps:.1f}"
        f" requests/s; latency p50 {ledger.p50_ms} ms, p95 {ledger.p95_ms} ms,"
        f" p99 {ledger.p99_ms} ms{cpu}",
        "",
        f"{'kind':14} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  answers",
    ]
    for name, figures in ledger.kinds.items():
        answers = ", ".join(f"{answer}: {count}" for answer, count in figures.answers.items())
        lines.append(
            f"{name:14} {figures.requests:>8} {figures.p50_ms:>8} {figures.p95_ms:>8}"
            f" {figures.p99_ms:>8}  {answers}"
        )
    lines += [
        "",
        f"{'audit rows (endpoint outcome status)':40} {'answers call for':>16} {'found':>8}",
    ]
    for row, (expected, found) in ledger.table.items():
        lines.append(f"{row:40} {expected:>16} {found:>8}")
    lines += [
        "",
        f"5xx: {ledger.server_errors}; no answer: {ledger.no_answer}; unexpected answers:"
        f" {len(ledger.unexpected)} {ledger.unexpected or ''}; answers without a request id:"
        f" {ledger.without_request_id}; request ids answered twice:"
        f" {ledger.repeated_request_ids}",
        f"audit rows lost: {ledger.lost}; duplicated: {ledger.duplicated}; orphans:"
        f" {ledger.orphans}",
        f"ledger {'reconciled' if ledger.ok else 'NOT RECONCILED'}",
    ]
    return "\n".join(lines)


# ==============================================================================
# make load
# ==============================================================================
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=32, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--profiles", type=int, default=2000, help="credit profiles to import")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--database",
        default="scoreportal_load",
        help="the Postgres database to seed and use (its own: rows of another load would be"
        " orphans to this one)",
    )
    parser.add_argument(
        "--skip-units",
        action="store_true",
        help="skip the DynamoDB units of each kind of request (bench/capacity_units.py)",
    )
    args = parser.parse_args(argv)

    from bench.__main__ import stack_environment
    from devstack.services import AppServer, ensure_database, moto_server, postgres

    with postgres() as base_url, moto_server() as dynamodb_url:
        database_url = base_url.rsplit("/", 1)[0] + "/" + args.database
        ensure_database(database_url)
        environment = stack_environment(database_url, dynamodb_url)
        os.environ.update(environment)
        import django

        django.setup()
        from django.core.management import call_command

        print("load: seeding …", flush=True)
        call_command("migrate", verbosity=0)
        call_command("ensure_score_table", stdout=io.StringIO())
        population = populate(profiles=args.profiles)
        mix = Mix(population, seed=args.seed)
        server = AppServer(environment, workers=args.workers, log_name="load-gunicorn")
        try:
            server.wait_until_ready()
            print(f"load: {args.concurrency} connections for {args.duration:g} s …", flush=True)
            since = datetime.now(UTC)
            driven = drive(
                port=server.port,
                plan=mix.request,
                concurrency=args.concurrency,
                duration=args.duration,
                server_pid=server.process.pid,
            )
            until = datetime.now(UTC)
        finally:
            server.stop()
        # Each answer left after its rows were committed; the margin covers clock rounding.
        margin = timedelta(seconds=1)
        ledger = reconcile(driven, mix, audit_rows(since=since - margin, until=until + margin))
        units = None
        if not args.skip_units:
            # After the reconciliation: these requests' rows are not the load's.
            print("load: DynamoDB units per request (in-process) …", flush=True)
            from bench.capacity_units import measure

            units = measure(
                key=population.key,
                limited_key=population.limited_key,
                known_cpfs=population.known_cpfs,
            )

    print()
    print(describe(ledger))
    if units is not None:
        from bench import capacity_units

        print()
        print(capacity_units.describe(units))
    RESULTS.mkdir(exist_ok=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": vars(args),
        "throughput_rps": round(ledger.throughput_rps, 1),
        "reconciled": ledger.ok,
        **asdict(ledger),
        "dynamodb_units": units,
    }
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'load.json'}")
    return 0 if ledger.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
