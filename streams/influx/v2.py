"""The v2 write API through influxdb-client (2.x and 3.x; ``CITYIOT_STREAM_INFLUX_API=v2``).

The same line protocol as v1; only the transport differs. The bucket is ``influxdb.database``;
1.x has no v2 API (404) and is served by :mod:`streams.influx.v1`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from streams.influx.errors import InfluxRejected, InfluxUnavailable

__all__ = ["V2Writer"]

_RETRY_4XX = {401, 403, 404, 408, 429}


class V2Writer:
    def __init__(self, *, url: str, bucket: str, org: str, token: str | None, timeout_s: float):
        self.url = url
        self.bucket = bucket
        self.org = org
        self._token = token or ""
        self._timeout_ms = int(timeout_s * 1000)
        self._client: Any = None
        self._api: Any = None

    async def start(self) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        self._client = InfluxDBClientAsync(
            url=self.url, token=self._token, org=self.org, timeout=self._timeout_ms
        )
        self._api = self._client.write_api()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def write(self, lines: list[str]) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            await self._api.write(
                bucket=self.bucket, org=self.org, record=lines, write_precision=WritePrecision.NS
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            if status >= 500 or status in _RETRY_4XX or status == 0:
                raise InfluxUnavailable(f"HTTP {status}: {exc.body}") from exc
            raise InfluxRejected(status, str(exc.body)[:500]) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(f"{type(exc).__name__}: {exc}") from exc
