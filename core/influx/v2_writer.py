"""The v2 write API through influxdb-client (2.x and 3.x; ``CITYIOT_STREAM_INFLUX_API=v2``).

The same line protocol as :class:`core.influx.V1Writer`, the same errors; only the transport
differs. The bucket is the target's database and the token its token; 1.x has no v2 API (404).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from core.influx.errors import AUTH_STATUSES, InfluxRejected, InfluxUnavailable, retryable
from core.influx.target import MAX_ERROR_CHARS, InfluxTarget
from core.influx.v1_writer import DEFAULT_WRITE_TIMEOUT_S

__all__ = ["V2Writer"]


class V2Writer:
    """Writes line protocol to ``target``'s bucket in ``org``; ``start`` opens the client."""

    def __init__(
        self, target: InfluxTarget, *, org: str, timeout_s: float = DEFAULT_WRITE_TIMEOUT_S
    ) -> None:
        self.target = target
        self.org = org
        self._timeout_ms = int(timeout_s * 1000)
        self._client: Any = None
        self._api: Any = None

    async def start(self) -> None:
        token = self.target.token.get_secret_value() if self.target.token else ""
        self._client = InfluxDBClientAsync(
            url=self.target.url, token=token, org=self.org, timeout=self._timeout_ms
        )
        self._api = self._client.write_api()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def write(self, lines: list[str]) -> None:
        if self._api is None:
            raise RuntimeError("V2Writer.start() was not awaited")
        try:
            await self._api.write(
                bucket=self.target.database,
                org=self.org,
                record=lines,
                write_precision=WritePrecision.NS,
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            text = self.target.redact(str(exc.body)[:MAX_ERROR_CHARS])
            if status in AUTH_STATUSES:
                raise self.target.auth_error(status, text) from exc
            # Status 0: no HTTP answer at all (the client's own transport failed).
            if status == 0 or retryable(status):
                raise InfluxUnavailable(f"HTTP {status}: {text}") from exc
            raise InfluxRejected(status, text) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(self.target.redact(f"{type(exc).__name__}: {exc}")) from exc
