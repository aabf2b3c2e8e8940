"""Upload folders and dashboards through Grafana's HTTP API, idempotently.

Stable uids make it idempotent: a folder is created if ``GET /api/folders/{uid}`` says 404 and
renamed in place otherwise; a dashboard is posted to ``/api/dashboards/db`` with
``overwrite: true`` and ``id: null``, so Grafana replaces the dashboard of that uid (a new
version in its history) instead of adding a copy. Only aiohttp, which the project already has:
grafana-client would swap urllib3 for urllib3-future in the whole virtualenv (FACTS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.errors import CityiotError
from core.settings.grafana import GrafanaSettings
from dashboards.boards.common import FOLDERS
from dashboards.build import BOARDS, build_one

__all__ = ["PushError", "PushResult", "push"]

log = logging.getLogger("cityiot.dashboards.push")

# Grafana answers in milliseconds; a dashboard save with history can take a few seconds on a
# busy SQLite-backed instance.
TIMEOUT_S = 30.0
COMMIT_MESSAGE = "cityiot dashboards push"


class PushError(CityiotError):
    """Grafana refused a request; the message names the call, the status and Grafana's reason."""

    def __init__(self, call: str, status: int, body: str) -> None:
        self.call = call
        self.status = status
        self.body = body
        hint = " (check CITYIOT_GRAFANA_TOKEN: a service-account token with Editor role)"
        super().__init__(
            f"{call} answered {status}: {body[:300]!r}" + (hint if status in (401, 403) else "")
        )


@dataclass(frozen=True)
class PushResult:
    folders: list[str]
    dashboards: list[str]
    urls: list[str]


class _Grafana:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base

    async def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, ok_404: bool = False
    ) -> dict[str, Any] | None:
        async with self._session.request(method, self._base + path, json=body) as response:
            if ok_404 and response.status == 404:
                return None
            if response.status >= 400:
                raise PushError(f"{method} {path}", response.status, await response.text())
            data: dict[str, Any] = await response.json(content_type=None)
            return data


async def _ensure_folder(grafana: _Grafana, uid: str, title: str) -> None:
    existing = await grafana.call("GET", f"/api/folders/{uid}", ok_404=True)
    if existing is None:
        await grafana.call("POST", "/api/folders", {"uid": uid, "title": title})
        log.info("folder created uid=%s", uid)
    elif existing.get("title") != title:
        await grafana.call("PUT", f"/api/folders/{uid}", {"title": title, "overwrite": True})
        log.info("folder renamed uid=%s", uid)


async def push(settings: GrafanaSettings) -> PushResult:
    """Create or update every cityiot folder, then every dashboard in its folder.

    Raises:
        PushError: Grafana refused a call (401/403: the token; 412: a uid clash with another
            dashboard of the same title in that folder).
        aiohttp.ClientError: Grafana is unreachable.
    """
    headers = {"X-Grafana-Org-Id": str(settings.org), "Accept": "application/json"}
    if settings.token is not None:
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    folders, dashboards, urls = [], [], []
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        grafana = _Grafana(session, settings.url)
        for folder in FOLDERS.values():
            await _ensure_folder(grafana, folder.uid, folder.title)
            folders.append(folder.uid)
        for board in BOARDS:
            model = build_one(board)
            model["id"] = None  # Grafana matches on uid; a stale numeric id would 404
            answer = await grafana.call(
                "POST",
                "/api/dashboards/db",
                {
                    "dashboard": model,
                    "folderUid": board.folder.uid,
                    "overwrite": True,
                    "message": COMMIT_MESSAGE,
                },
            )
            dashboards.append(board.uid)
            urls.append(settings.url + str((answer or {}).get("url", f"/d/{board.uid}")))
            log.info("dashboard pushed uid=%s version=%s", board.uid, (answer or {}).get("version"))
    return PushResult(folders, dashboards, urls)
