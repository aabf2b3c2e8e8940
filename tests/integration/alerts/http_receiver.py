"""A real aiohttp HTTP receiver on a free loopback port, scripted per path.

Tests run their own event loop (``asyncio.run``): the project has no pytest-asyncio.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from cityiot.local.ports import free_port

Handler = Callable[["Received"], Awaitable[tuple[int, bytes]]]


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() at arrival


@dataclass
class Receiver:
    """Records every request; ``routes`` maps a path to a coroutine returning (status, body)."""

    port: int
    routes: dict[str, Handler]
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


async def ok(_: Received) -> tuple[int, bytes]:
    return 200, b'{"errcode":0,"code":0}'


@asynccontextmanager
async def receiver(routes: dict[str, Handler]) -> AsyncIterator[Receiver]:
    """Start the receiver; stop it without waiting for slow handlers (they are cancelled)."""
    rec = Receiver(free_port(), routes)

    async def handle(request: web.Request) -> web.Response:
        got = Received(
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
            time.monotonic(),
        )
        rec.requests.append(got)
        status, body = await rec.routes.get(request.path, ok)(got)
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", rec.port)
    await site.start()
    try:
        yield rec
    finally:
        await runner.cleanup()
