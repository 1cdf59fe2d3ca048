"""Optional bearer-token auth, checked on the request line and headers only: a request
without a valid token gets 401 before any byte of its body is read.

Writes (anything but GET/HEAD/OPTIONS under `/v1/reservations`) are never anonymous by
default: with no token configured they get 403 `anonymous_writes_disabled`, unless the
operator sets `STOCKLINE_API_ALLOW_ANONYMOUS_WRITES=true`."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.http.errors import error_response

PROTECTED_PREFIX = "/v1/"
"""Paths needing a token; /healthz, /readyz, /metrics and the OpenAPI document stay open."""
WRITE_PREFIX = "/v1/reservations"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_ANONYMOUS_WRITES = (
    "reservation writes need a bearer token and none is configured: set "
    "STOCKLINE_API_TOKENS or STOCKLINE_API_TOKENS_FILE (docs/security.md), or allow "
    "anonymous writes with STOCKLINE_API_ALLOW_ANONYMOUS_WRITES=true"
)


class BearerAuth:
    """ASGI middleware; with no tokens configured every read passes, and every write when
    `allow_anonymous_writes`."""

    def __init__(
        self, app: ASGIApp, tokens: Iterable[str], *, allow_anonymous_writes: bool = False
    ) -> None:
        self.app = app
        self.tokens = tuple(t.encode() for t in tokens)
        self.allow_anonymous_writes = allow_anonymous_writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._protected(scope):
            await self.app(scope, receive, send)
            return
        if not self.tokens:
            if self.allow_anonymous_writes or not _is_write(scope):
                await self.app(scope, receive, send)
                return
            response = error_response(403, "anonymous_writes_disabled", _NO_ANONYMOUS_WRITES)
            await response(scope, receive, send)
            return
        if self.accepts(_bearer(scope)):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            "unauthorized",
            "send a valid token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def accepts(self, given: bytes | None) -> bool:
        """Constant-time against every token: the time taken says nothing about which
        token, or how much of one, matched."""
        matched = False
        for token in self.tokens:
            matched |= hmac.compare_digest(given or b"", token)
        return matched and given is not None

    @staticmethod
    def _protected(scope: Scope) -> bool:
        return str(scope["path"]).startswith(PROTECTED_PREFIX)


def _is_write(scope: Scope) -> bool:
    return scope["method"] not in _READ_METHODS and str(scope["path"]).startswith(WRITE_PREFIX)


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = bytes(value).partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" and token.strip() else None
    return None
