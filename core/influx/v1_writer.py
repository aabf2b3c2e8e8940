"""Line protocol to ``POST /write``: InfluxDB 1.x, and 2.x/3.x through v1 compatibility.

The streams worker's hot path: one aiohttp session, one request per chunk of lines. ``write``
raises :class:`InfluxUnavailable` (retry: 5xx, 401/403/404/408/429, timeout, refused connection;
401 and 403 as :class:`InfluxAuthError`, naming the user) or :class:`InfluxRejected` (any other
4xx: the data itself is bad), and nothing else.
"""

from __future__ import annotations

import logging

import aiohttp

from core.influx.errors import AUTH_STATUSES, InfluxRejected, InfluxUnavailable, retryable
from core.influx.target import MAX_ERROR_CHARS, InfluxTarget, quote_identifier

__all__ = ["DEFAULT_WRITE_TIMEOUT_S", "V1Writer"]

log = logging.getLogger(__name__)

DEFAULT_WRITE_TIMEOUT_S = 10.0
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class V1Writer:
    """Writes line protocol to ``target``; ``start`` opens the session and creates the database."""

    def __init__(self, target: InfluxTarget, *, timeout_s: float = DEFAULT_WRITE_TIMEOUT_S) -> None:
        self.target = target
        self._params = {"db": target.database, "precision": "ns"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self.target.headers())
        try:
            await self.create_database()
        except InfluxUnavailable as exc:
            # Not fatal: the first write retries until InfluxDB answers, and creates it on 404.
            url = self.target.redact(self.target.url)
            log.warning("influxdb not reachable at start url=%r error=%r", url, str(exc))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_database(self) -> bool:
        """``CREATE DATABASE`` (1.x; idempotent); whether InfluxDB did it. 2.x/3.x answer an
        error, and a user without admin privilege (a write-only one) 403: both are ignored, as
        the database is then someone else's to create."""
        session = self._require_session()
        statement = f"CREATE DATABASE {quote_identifier(self.target.database)}"
        try:
            async with session.post(f"{self.target.url}/query", data={"q": statement}) as resp:
                if resp.status >= 500:
                    raise InfluxUnavailable(f"HTTP {resp.status} creating the database")
                if resp.status >= 400:
                    log.info("create database answered HTTP %d (not 1.x, or no admin)", resp.status)
                    return False
                return '"error"' not in await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InfluxUnavailable(self._describe(exc)) from exc

    async def write(self, lines: list[str]) -> None:
        session = self._require_session()
        body = "\n".join(lines).encode()
        try:
            async with session.post(
                f"{self.target.url}/write", params=self._params, data=body, headers=_TEXT
            ) as resp:
                if resp.status == 204 or resp.status == 200:
                    return
                text = self.target.redact((await resp.text())[:MAX_ERROR_CHARS])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InfluxUnavailable(self._describe(exc)) from exc
        if resp.status == 404 and "database not found" in text:
            if await self.create_database():
                raise InfluxUnavailable("database not found; created it")
            raise InfluxUnavailable(
                f"database {self.target.database!r} not found, and {self.target.who()} may not "
                "create it: an admin creates it"
            )
        if resp.status in AUTH_STATUSES:
            raise self.target.auth_error(resp.status, text)
        if retryable(resp.status):
            raise InfluxUnavailable(f"HTTP {resp.status}: {text}")
        raise InfluxRejected(resp.status, text)

    def _describe(self, exc: BaseException) -> str:
        return self.target.redact(f"{type(exc).__name__}: {exc}")

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("V1Writer.start() was not awaited")
        return self._session
