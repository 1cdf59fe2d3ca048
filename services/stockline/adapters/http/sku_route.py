"""`GET` and `HEAD /v1/availability/{sku}`: the storefronts' hot path, answered from the
SKU's read with HTTP caching (DESIGN.md section 6).

The answer carries `ETag: "<version>"` (strong: the body of one version differs only in
`as_of`, the time of the read) and, when configured, `Cache-Control: max-age=N`. An
`If-None-Match` naming the current version (or `*`) gets 304 with those headers and no
body; `HEAD` gets the headers of the `GET` alone.

`SkuFront` answers well-formed requests for this route before FastAPI's router: the
framework's per-request machinery (dependencies, exit stacks, response models) costs
more than the read itself here. Every other request, and any single-SKU request whose
path does not hold a valid SKU id, goes to the FastAPI app, which keeps the same route
for the OpenAPI document and its 4xx answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.http.errors import error_response, failure_response
from stockline.adapters.http.reads import SkuRead, SkuReads
from stockline.contracts.events import CODE_PATTERN

PREFIX: Final = "/v1/availability/"
_SKU = re.compile(CODE_PATTERN)
_JSON: Final = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole response, sent as two ASGI messages."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    @classmethod
    def of(cls, response: Response) -> Answer:
        return cls(response.status_code, list(response.raw_headers), bytes(response.body))

    async def __call__(self, send: Send, *, head: bool = False) -> None:
        """Send it; for HEAD the headers alone (Content-Length still gives the GET's)."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


class AnswerResponse(Response):
    """An `Answer` as a Starlette response, for the FastAPI route."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(status_code=answer.status)
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.answer(send, head=scope["method"] == "HEAD")


def etag_of(version: int) -> bytes:
    return b'"%d"' % version


def none_match(header: bytes | None, etag: bytes) -> bool:
    """True when an `If-None-Match` value names `etag` or is `*` (weak comparison, as
    RFC 9110 asks of If-None-Match: `W/"7"` matches `"7"`)."""
    if header is None:
        return False
    for candidate in header.split(b","):
        tag = candidate.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


@dataclass(frozen=True, slots=True)
class SkuAnswers:
    """Builds the answer of one single-SKU request."""

    reads: SkuReads
    cache_control: bytes | None = None
    """`max-age=N`, or None for no Cache-Control header."""

    async def answer(self, sku: str, *, if_none_match: bytes | None) -> Answer:
        read = await self.reads.one(sku)
        if read is None:
            return Answer.of(
                error_response(404, "sku_not_found", f"no event has touched SKU {sku!r}")
            )
        return self.found(read, if_none_match=if_none_match)

    def found(self, read: SkuRead, *, if_none_match: bytes | None) -> Answer:
        etag = etag_of(read.version)
        headers = [(b"etag", etag)]
        if self.cache_control is not None:
            headers.append((b"cache-control", self.cache_control))
        if none_match(if_none_match, etag):
            return Answer(304, headers)
        headers += [_JSON, (b"content-length", b"%d" % len(read.body))]
        return Answer(200, headers, read.body)


class SkuFront:
    """ASGI: answers well-formed single-SKU GET and HEAD requests, passes the rest to `app`
    (with `route` in the scope, so metrics label them by the route's template)."""

    def __init__(self, app: ASGIApp, answers: SkuAnswers, route: BaseRoute) -> None:
        self.app = app
        self.answers = answers
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sku = _sku_of(scope)
        if sku is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            answer = await self.answers.answer(sku, if_none_match=_if_none_match(scope))
        except Exception as exc:
            answer = Answer.of(failure_response(exc))
        await answer(send, head=scope["method"] == "HEAD")


def _sku_of(scope: Scope) -> str | None:
    """The SKU of a well-formed `GET|HEAD /v1/availability/{sku}`, else None."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    sku = path[len(PREFIX) :]
    return sku if sku != "batch" and _SKU.fullmatch(sku) else None


def _if_none_match(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return bytes(value)
    return None
