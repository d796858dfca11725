"""ASGI middleware at the edge: body size limit (413 before parsing) and security headers."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


TOO_LARGE = b'{"detail":"request body too large"}'


def declared_too_big(scope: Scope, max_bytes: int) -> bool:
    """A ``Content-Length`` over ``max_bytes`` (one that is not a number is left to the app)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value) > max_bytes
            except ValueError:
                return False
    return False


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read;
    a chunked body is counted as it arrives and refused the moment it passes the limit, whatever
    the application was doing with it (FastAPI would otherwise turn the interruption into a 400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_big(scope, self.max_bytes):
            await self._reject(send)
            return
        seen = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app answers to an interrupted body, the client gets the 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                started = True
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(TOO_LARGE)).encode()),
                    (b"connection", b"close"),
                ]
                + SecurityHeaders.API_HEADERS,
            }
        )
        await send({"type": "http.response.body", "body": TOO_LARGE})


class SecurityHeaders:
    """Headers every response carries: no sniffing, no framing, no referrer leaks, no caching.

    API answers also get a Content-Security-Policy that forbids everything (JSON needs nothing);
    the interactive docs pages are left without it because they load Swagger UI / ReDoc scripts.
    """

    COMMON = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-site"),
    ]
    API_HEADERS = COMMON + [
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    ]
    DOCS_PATHS = ("/docs", "/redoc")

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(self.DOCS_PATHS)
        extra = self.COMMON if docs else self.API_HEADERS
        names = {name for name, _ in extra}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, with_headers)
