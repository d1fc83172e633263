"""The client's IP address, from what no client can forge.

On Lambda, API Gateway puts the address the connection came from in the event's request
context: `identity.sourceIp` for REST APIs (payload v1), `http.sourceIp` for HTTP APIs
(v2). Zappa passes the event along as `lambda.event` in the WSGI environ, and sets
REMOTE_ADDR from X-Forwarded-For, which the client writes: that one is never used here.

Elsewhere (gunicorn, runserver), REMOTE_ADDR is the peer; behind
TRUSTED_PROXY_COUNT reverse proxies that each append to X-Forwarded-For, the client is
the entry that many places from the end, and everything before it is the client's own
say-so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The normalised client address, or None when there is no trustworthy one."""
    event = request.META.get("lambda.event")
    if isinstance(event, Mapping):
        return _normalised(_source_ip(event))
    proxies = int(settings.TRUSTED_PROXY_COUNT)
    if proxies <= 0:
        return _normalised(request.META.get("REMOTE_ADDR"))
    forwarded = [
        address.strip()
        for address in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if address.strip()
    ]
    if len(forwarded) < proxies:
        return None  # fewer hops than trusted proxies: not the deployment we trust
    return _normalised(forwarded[-proxies])


def axes_client_ip(request: HttpRequest) -> str:
    """django-axes' AXES_CLIENT_IP_CALLABLE: the same address, "" when unknown."""
    return client_ip(request) or ""


def _source_ip(event: Mapping[str, Any]) -> object:
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    for section in ("http", "identity"):  # v2, then v1
        values = context.get(section)
        if isinstance(values, Mapping) and values.get("sourceIp"):
            return values["sourceIp"]
    return None


def _normalised(address: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(address)))
    except ValueError:
        return None
