"""Optional bearer-token auth, checked on the request line and headers only: a request
without a valid token gets 401 before any byte of its body is read."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from stockline.adapters.http.errors import error_response

PROTECTED_PREFIX = "/v1/"
"""Paths needing a token; /healthz, /readyz, /metrics and the OpenAPI document stay open."""


class BearerAuth:
    """ASGI middleware; with no tokens configured every request passes."""

    def __init__(self, app: ASGIApp, tokens: Iterable[str]) -> None:
        self.app = app
        self.tokens = tuple(t.encode() for t in tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens or not self._protected(scope):
            await self.app(scope, receive, send)
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


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = bytes(value).partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" and token.strip() else None
    return None
