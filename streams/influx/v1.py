"""Line protocol to ``POST /write``: InfluxDB 1.x, and 2.x/3.x through v1 compatibility."""

from __future__ import annotations

import logging

import aiohttp

from streams.influx.errors import InfluxRejected, InfluxUnavailable

__all__ = ["V1Writer"]

log = logging.getLogger(__name__)

# Auth and "database not found" are configuration or start-up states, not bad data: retry.
_RETRY_4XX = {401, 403, 404, 408, 429}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class V1Writer:
    """One aiohttp session; ``write`` raises InfluxUnavailable (retry) or InfluxRejected (4xx)."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._params = {"db": database, "precision": "ns"}
        self._headers: dict[str, str] = {}
        self._auth: aiohttp.BasicAuth | None = None
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            self._auth = aiohttp.BasicAuth(username, password or "")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, headers=self._headers, auth=self._auth
        )
        try:
            await self.create_database()
        except InfluxUnavailable as exc:
            # Not fatal: the first write retries until InfluxDB answers, and creates it on 404.
            log.warning("influxdb not reachable at start url=%r error=%r", self.url, str(exc))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_database(self) -> None:
        """``CREATE DATABASE`` (1.x; idempotent). 2.x/3.x answer an error, which is ignored."""
        session = self._require_session()
        query = f'CREATE DATABASE "{self.database.replace(chr(34), "")}"'
        try:
            async with session.post(f"{self.url}/query", data={"q": query}) as resp:
                if resp.status >= 500:
                    raise InfluxUnavailable(f"HTTP {resp.status} creating the database")
                if resp.status >= 400:
                    log.info("create database answered HTTP %d (not 1.x?)", resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InfluxUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def write(self, lines: list[str]) -> None:
        session = self._require_session()
        body = "\n".join(lines).encode()
        try:
            async with session.post(
                f"{self.url}/write", params=self._params, data=body, headers=_TEXT
            ) as resp:
                if resp.status == 204 or resp.status == 200:
                    return
                text = (await resp.text())[:500]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise InfluxUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status == 404 and "database not found" in text:
            await self.create_database()
            raise InfluxUnavailable("database not found; created it")
        if resp.status >= 500 or resp.status in _RETRY_4XX:
            raise InfluxUnavailable(f"HTTP {resp.status}: {text}")
        raise InfluxRejected(resp.status, text)

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("V1Writer.start() was not awaited")
        return self._session
