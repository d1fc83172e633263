"""A browser for the packaged function: what a staff member's browser sends, as events.

It keeps the cookies the function sets, sends the Referer and Origin a browser sends
(the page it is on), follows redirects, and submits the pages' own forms with their
hidden fields (the CSRF token among them) as a browser without JavaScript does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote_plus, urlencode, urljoin, urlsplit

from devstack.lambda_invoke import API_HOST, WarmFunction, http_api_event, rest_api_event

ORIGIN = f"https://{API_HOST}"
STAGE = "/dev"


@dataclass
class Form:
    """A form of a page: where it goes, how, and the fields a browser would send."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)

    def with_values(self, **values: str) -> list[tuple[str, str]]:
        """The fields, with `values` replacing (or adding) the named ones."""
        kept = [(name, value) for name, value in self.fields if name not in values]
        return [*kept, *values.items()]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, Form] = {}
        self._current: Form | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
            )
            self.forms[attributes.get("id") or f"form-{len(self.forms)}"] = self._current
        elif self._current is not None and tag == "input" and "name" in attributes:
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            if kind in ("submit", "button", "file"):
                return
            self._current.fields.append((attributes["name"], attributes.get("value", "")))
        elif self._current is not None and tag == "textarea" and "name" in attributes:
            self._textarea = attributes["name"]
            self._current.fields.append((self._textarea, ""))

    def handle_data(self, data: str) -> None:
        if self._current is not None and self._textarea is not None:
            name, value = self._current.fields.pop()
            self._current.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "textarea":
            self._textarea = None


@dataclass
class Page:
    """An answer, after the redirects were followed."""

    status: int
    headers: dict[str, str]
    body: str
    url: str  # path (without the stage) and query
    redirects: list[str]

    def forms(self) -> dict[str, Form]:
        parser = _FormParser()
        parser.feed(self.body)
        return parser.forms

    def form(self, form_id: str) -> Form:
        forms = self.forms()
        assert form_id in forms, (form_id, sorted(forms), self.url, self.body[:2000])
        return forms[form_id]

    def json(self) -> Any:
        return json.loads(self.body)


class LambdaBrowser:
    """One person's browser, talking to the function through API Gateway's events.

    `http_api` chooses the HTTP API (payload v2) event, which passes the query string on
    as written; otherwise REST API (v1) events, which deliver it decoded.
    """

    def __init__(self, function: WarmFunction, *, http_api: bool = False) -> None:
        self.function = function
        self.http_api = http_api
        self.cookies: dict[str, str] = {}
        self.url: str | None = None  # the page the browser is on, for the Referer
        # Every page the browser was on and every redirect it followed, decoded.
        self.addresses: list[str] = []

    def get(self, url: str, *, follow: bool = True) -> Page:
        return self._navigate("GET", url, None, follow=follow)

    def post(self, url: str, data: list[tuple[str, str]], *, follow: bool = True) -> Page:
        return self._navigate("POST", url, urlencode(data), follow=follow)

    def submit(self, page: Page, form_id: str, *, follow: bool = True, **values: str) -> Page:
        """Submit a form of `page` as a browser does, with `values` typed into it (without
        following a redirect that leaves the function: `follow=False`)."""
        form = page.form(form_id)
        target = _without_stage(urljoin(f"{ORIGIN}{STAGE}{page.url}", form.action))
        data = form.with_values(**values)
        if form.method == "post":
            return self.post(target, data, follow=follow)
        return self.get(urlsplit(target).path + "?" + urlencode(data))

    def _navigate(self, method: str, url: str, body: str | None, *, follow: bool) -> Page:
        """Go to `url` (a path, or relative to the page the browser is on)."""
        if not url.startswith("/"):
            url = _without_stage(urljoin(f"{ORIGIN}{STAGE}{self.url or '/'}", url))
        redirects: list[str] = []
        while True:
            answer = self._send(method, url, body)
            status = answer["statusCode"]
            headers = {name.lower(): value for name, value in (answer.get("headers") or {}).items()}
            location = headers.get("location")
            if follow and location and status in (301, 302, 303, 307, 308):
                redirects.append(location)
                self.addresses.append(unquote_plus(location))
                url = _without_stage(urljoin(f"{ORIGIN}{STAGE}{url}", location))
                if status in (301, 302, 303):
                    method, body = "GET", None
                continue
            page = Page(status, headers, answer.get("body") or "", url, redirects)
            self.url = url
            self.addresses.append(unquote_plus(url))
            return page

    def _send(self, method: str, url: str, body: str | None) -> dict[str, Any]:
        parts = urlsplit(url)
        headers = {"User-Agent": "Mozilla/5.0 (lambda browser)", "Accept": "text/html"}
        if self.url is not None:
            headers["Referer"] = f"{ORIGIN}{STAGE}{self.url}"
        if method == "POST":
            headers["Origin"] = ORIGIN
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        build = http_api_event if self.http_api else rest_api_event
        event = build(method, parts.path, headers=headers, body=body, query=parts.query)
        answer = self.function.invoke(event)
        set_cookies = answer.get("cookies") or (answer.get("multiValueHeaders") or {}).get(
            "Set-Cookie", []
        )
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return answer


def _without_stage(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.removeprefix(STAGE) if parts.path.startswith(f"{STAGE}/") else parts.path
    return path + (f"?{parts.query}" if parts.query else "")
