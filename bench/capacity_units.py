"""DynamoDB read and write units of the score path, from the items it actually reads and
writes (`make load` runs this after its load; docs/capacity.md quotes it).

What is measured here: which DynamoDB calls a request makes and which items each call
reads or writes (a botocore hook on the application's clients, in-process requests through
Django's test client against the local endpoint), and each item's size as stored (read back
from the local table, before and after a write). What is AWS's: the size and unit rules
below, applied to those items ("DynamoDB item sizes and formats" and "DynamoDB read and
write operations", DynamoDB Developer Guide):

- an item's size is the sum, over its attributes, of the name's UTF-8 bytes and the
  value's size: a string its UTF-8 bytes; a number about one byte per two significant
  digits plus one; binary its raw bytes; a Boolean or null one byte; a list or map 3 bytes
  plus its elements, each with one byte of overhead (a map's element with its name);
- a read takes one unit per 4 KB of the item, rounded up (strongly consistent), half that
  eventually consistent; BatchGetItem rounds each item on its own; reading an item that
  does not exist still takes the minimum;
- a write takes one unit per 1 KB, rounded up, of the larger of the item before and after
  (PutItem, UpdateItem; each item of a BatchWriteItem on its own); a conditional write whose
  condition fails still takes write units, by the existing item's size (at least one).

moto answers ReturnConsumedCapacity with figures of its own, not DynamoDB's: not used.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

READ_BLOCK = 4096
WRITE_BLOCK = 1024
BATCH_SIZE = 100


# ---------------------------------------------------------------------------------------
# AWS's rules
# ---------------------------------------------------------------------------------------
def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value (its name not included), in DynamoDB's typed form."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in content)
    if kind == "NS":
        return sum(number_size(element) for element in content)
    if kind == "BS":
        return sum(len(element) for element in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(v) for name, v in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (leading and trailing zeros
    trimmed)."""
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(sizes: list[int], *, consistent: bool) -> float:
    """One GetItem, or one BatchGetItem's items (each rounded on its own; a missing item,
    size 0, takes the minimum)."""
    blocks = sum(max(1, math.ceil(size / READ_BLOCK)) for size in sizes)
    return blocks if consistent else blocks / 2


def write_units(before: int, after: int) -> int:
    return max(1, math.ceil(max(before, after) / WRITE_BLOCK))


# ---------------------------------------------------------------------------------------
# The calls a request makes, and the items they touch
# ---------------------------------------------------------------------------------------
class Recorder:
    """Every DynamoDB call the application's clients send: its operation, the keys it read
    or wrote, each item's size as stored (before and after a write), whether it failed,
    and the units AWS's rules give it. Items are read through a client of its own (its
    reads are not recorded)."""

    def __init__(self) -> None:
        import boto3
        from django.conf import settings

        from scoreportal import aws_clients

        self.table = settings.SCORE_CACHE_TABLE
        self.reader = boto3.client(
            "dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.DYNAMODB_ENDPOINT_URL
        )
        self.clients = [aws_clients.dynamodb(), aws_clients.dynamodb_bulk()]
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __enter__(self) -> Recorder:
        for client in self.clients:
            client.meta.events.register("provide-client-params.dynamodb", self.before)
            client.meta.events.register("after-call.dynamodb", self.after)
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self.clients:
            client.meta.events.unregister("provide-client-params.dynamodb", self.before)
            client.meta.events.unregister("after-call.dynamodb", self.after)

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls

    def sizes(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(keys, 0)
        for start in range(0, len(keys), BATCH_SIZE):
            response = self.reader.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [{"pk": {"S": key}} for key in keys[start : start + BATCH_SIZE]],
                        "ConsistentRead": True,
                    }
                }
            )
            for item in response["Responses"].get(self.table, []):
                found[item["pk"]["S"]] = item_size(item)
        return found

    def before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        operation = model.name
        call: dict[str, Any] = {"operation": operation}
        if operation in ("BatchGetItem", "GetItem"):
            request = params["RequestItems"][self.table] if operation == "BatchGetItem" else params
            keys = request["Keys"] if operation == "BatchGetItem" else [request["Key"]]
            call["keys"] = [key["pk"]["S"] for key in keys]
            call["consistent"] = bool(request.get("ConsistentRead"))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            key = params["Item"]["pk"] if operation == "PutItem" else params["Key"]["pk"]
            call["keys"] = [key["S"]]
            call["conditional"] = "ConditionExpression" in params
            call["before"] = self.sizes(call["keys"])
        elif operation == "BatchWriteItem":
            requests = params["RequestItems"][self.table]
            call["keys"] = [
                (r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"])["pk"]["S"]
                for r in requests
            ]
            call["before"] = self.sizes(call["keys"])
        context["capacity_call"] = call

    def after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.pop("capacity_call", None)
        if call is None:
            return
        call["error"] = parsed.get("Error", {}).get("Code")
        keys = call.get("keys", [])
        sizes = self.sizes(keys)
        if "before" not in call:  # a read: the items as they are
            call["sizes"] = [sizes[key] for key in keys]
            call["rcu"] = read_units(call["sizes"], consistent=call["consistent"])
        else:
            call["after"] = sizes
            call["wcu"] = sum(
                write_units(call["before"][key], 0 if call["error"] else sizes[key]) for key in keys
            )
        with self.lock:
            self.calls.append(call)


def summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """A request's calls, as reported: each call's operation, items and units; the totals."""
    described = []
    for call in calls:
        kinds = Counter(_kind(key) for key in call.get("keys", []))
        row: dict[str, Any] = {"operation": call["operation"], "items": dict(kinds)}
        if "rcu" in call:
            row |= {
                "consistent": call["consistent"],
                "item_bytes": call["sizes"],
                "rcu": call["rcu"],
            }
        if "wcu" in call:
            row |= {
                "bytes_before": list(call["before"].values()),
                "bytes_after": list(call["after"].values()),
                "wcu": call["wcu"],
            }
        if call.get("error"):
            row["error"] = call["error"]
        described.append(row)
    return {
        "calls": described,
        "rcu": sum(call.get("rcu", 0) for call in calls),
        "wcu": sum(call.get("wcu", 0) for call in calls),
    }


def _kind(key: str) -> str:
    if key.startswith("key#"):
        return "counter"
    if key == "__generation__":
        return "generation"
    if len(key) == 64:
        return "score"
    return "other"


def census(recorder: Recorder) -> dict[str, Any]:
    """Every item in the table after the load, by kind: how many, and their sizes."""
    sizes: dict[str, list[int]] = {}
    paginator = recorder.reader.get_paginator("scan")
    for page in paginator.paginate(TableName=recorder.table, ConsistentRead=True):
        for item in page["Items"]:
            kind = _kind(item["pk"]["S"])
            if kind == "score" and "score" not in item:
                kind = "tombstone"
            sizes.setdefault(kind, []).append(item_size(item))
    return {
        kind: {
            "items": len(found),
            "min_bytes": min(found),
            "median_bytes": statistics.median(found),
            "max_bytes": max(found),
        }
        for kind, found in sorted(sizes.items())
    }


def measure(*, key: str, limited_key: str, known_cpfs: list[str]) -> dict[str, Any]:
    """The units of each kind of score request, made in-process after the load (the keys
    and CPFs of `make load`): each request's calls recorded on their own."""
    from django.conf import settings
    from django.test import Client

    from scores.core.cpf import Cpf

    client = Client(HTTP_HOST="127.0.0.1")

    def post(path: str, body: dict[str, Any], api_key: str = key) -> int:
        headers = {"Authorization": f"Api-Key {api_key}"}
        response = client.post(path, body, content_type="application/json", headers=headers)
        return response.status_code

    results: dict[str, Any] = {}
    with Recorder() as recorder:
        uncached = [
            cpf
            for cpf, size in zip(
                known_cpfs,
                recorder.sizes(
                    [Cpf.parse(cpf).lookup_hash(settings.CPF_HASH_KEY) for cpf in known_cpfs]
                ).values(),
                strict=True,
            )
            if size == 0
        ]
        if len(uncached) < BATCH_SIZE + 2:
            raise RuntimeError(f"only {len(uncached)} CPFs with credit data are not cached")
        single, miss = uncached[0], uncached[1]
        batch = uncached[2 : 2 + BATCH_SIZE]

        def measured(name: str, path: str, body: dict[str, Any], api_key: str = key) -> None:
            recorder.take()
            status = post(path, body, api_key)
            results[name] = {"status": status, **summary(recorder.take())}

        # The key's first requests in this process: a count, then a block (its lease).
        for _ in range(3):
            post("/api/v1/scores", {"cpf": single})
        measured("cached, served from the key's lease", "/api/v1/scores", {"cpf": single})
        time.sleep(1.1)  # the key's stamp is read again once a second per process
        measured(
            "cached, with the key's stamp (once a second per process and key)",
            "/api/v1/scores",
            {"cpf": single},
        )
        measured("cache miss", "/api/v1/scores", {"cpf": miss})
        measured("batch of 100, all misses", "/api/v1/scores/batch", {"cpfs": batch})
        measured("batch of 100, cached", "/api/v1/scores/batch", {"cpfs": batch})
        time.sleep(1.1)
        measured(
            "batch of 100, cached, with the key's stamp",
            "/api/v1/scores/batch",
            {"cpfs": batch},
        )
        # A key of a few CPFs a minute counts each request with its own UpdateItem; after the
        # load it is at its limit: the conditional update fails (and is refused, 429).
        measured(
            "small-limit key (every request its UpdateItem)",
            "/api/v1/scores",
            {"cpf": single},
            api_key=limited_key,
        )
        results["items in the table"] = census(recorder)
    return results


def describe(results: dict[str, Any]) -> str:
    lines = ["DynamoDB units per request (item sizes measured here, AWS's unit rules):"]
    for name, measured in results.items():
        if name == "items in the table":
            continue
        calls = "; ".join(
            f"{call['operation']} {call['items']}"
            + (" consistent" if call.get("consistent") else "")
            + (f" [{call['error']}]" if call.get("error") else "")
            for call in measured["calls"]
        )
        lines.append(
            f"  {name:60} HTTP {measured['status']}  RCU {measured['rcu']:g}  "
            f"WCU {measured['wcu']:g}  ({calls})"
        )
    lines.append("items in the table after the load (bytes, by AWS's item-size rules):")
    for kind, found in results["items in the table"].items():
        lines.append(
            f"  {kind:12} {found['items']:>6} items  min {found['min_bytes']}  "
            f"median {found['median_bytes']}  max {found['max_bytes']}"
        )
    return "\n".join(lines)
