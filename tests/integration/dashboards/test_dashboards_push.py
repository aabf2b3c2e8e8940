"""``push`` against a real HTTP server that speaks the few Grafana endpoints it calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from cityiot.local.ports import free_port
from core.settings.grafana import GrafanaSettings
from dashboards.boards.common import FOLDERS
from dashboards.build import BOARDS
from dashboards.push import PushError, push

TOKEN = "glsa_test_token"


class FakeGrafana:
    """Folders and dashboards in dicts, every request recorded; refuses a wrong token."""

    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.app = web.Application(middlewares=[self._auth])
        self.app.add_routes(
            [
                web.get("/api/folders/{uid}", self.get_folder),
                web.post("/api/folders", self.create_folder),
                web.put("/api/folders/{uid}", self.update_folder),
                web.post("/api/dashboards/db", self.save_dashboard),
            ]
        )

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        assert request.headers.get("X-Grafana-Org-Id") == "1"
        response: web.StreamResponse = await handler(request)
        return response

    async def get_folder(self, request: web.Request) -> web.Response:
        folder = self.folders.get(request.match_info["uid"])
        if folder is None:
            return web.json_response({"message": "folder not found"}, status=404)
        return web.json_response(folder)

    async def create_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["uid"] in self.folders:
            return web.json_response({"message": "a folder with that uid exists"}, status=409)
        self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "version": 1}
        return web.json_response(self.folders[body["uid"]])

    async def update_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        folder = self.folders[request.match_info["uid"]]
        folder["title"] = body["title"]
        folder["version"] += 1
        return web.json_response(folder)

    async def save_dashboard(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = body["dashboard"]
        uid = model["uid"]
        if body["folderUid"] not in self.folders:
            return web.json_response({"message": "folder not found"}, status=400)
        if uid in self.dashboards and not body.get("overwrite"):
            return web.json_response({"status": "version-mismatch"}, status=412)
        version = self.dashboards.get(uid, {}).get("version", 0) + 1
        self.dashboards[uid] = {"model": model, "folderUid": body["folderUid"], "version": version}
        return web.json_response(
            {"uid": uid, "url": f"/d/{uid}/x", "version": version, "status": "success"}
        )


async def _serve(scenario: Callable[[FakeGrafana, str], Awaitable[None]]) -> FakeGrafana:
    fake = FakeGrafana()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await scenario(fake, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
    return fake


def _settings(url: str, token: str = TOKEN) -> GrafanaSettings:
    return GrafanaSettings(url=url, token=token)


def test_push_creates_folders_and_dashboards() -> None:
    """One push creates both folders and every dashboard, each in its folder, by stable uid."""

    async def scenario(fake: FakeGrafana, url: str) -> None:
        result = await push(_settings(url))
        assert result.urls == [f"{url}/d/{b.uid}/x" for b in BOARDS]

    fake = asyncio.run(_serve(scenario))
    assert {uid: f["title"] for uid, f in fake.folders.items()} == {
        f.uid: f.title for f in FOLDERS.values()
    }
    assert {uid: d["folderUid"] for uid, d in fake.dashboards.items()} == {
        b.uid: b.folder.uid for b in BOARDS
    }
    for saved in fake.dashboards.values():
        assert saved["model"]["id"] is None
        assert saved["model"]["panels"]


def test_push_twice_overwrites_without_duplicates() -> None:
    """A second push overwrites the same uids (version 2) and creates no folder or copy."""

    async def scenario(fake: FakeGrafana, url: str) -> None:
        await push(_settings(url))
        first = list(fake.requests)
        await push(_settings(url))
        second = fake.requests[len(first) :]
        assert ("POST", "/api/folders") not in second
        assert second.count(("POST", "/api/dashboards/db")) == len(BOARDS)

    fake = asyncio.run(_serve(scenario))
    assert len(fake.folders) == len(FOLDERS)
    assert sorted(fake.dashboards) == sorted(b.uid for b in BOARDS)
    assert {d["version"] for d in fake.dashboards.values()} == {2}


def test_push_renames_folder_in_place() -> None:
    """A folder whose title changed is renamed through PUT, keeping its uid."""

    async def scenario(fake: FakeGrafana, url: str) -> None:
        uid = next(iter(FOLDERS.values())).uid
        fake.folders[uid] = {"uid": uid, "title": "old title", "version": 1}
        await push(_settings(url))
        assert ("PUT", f"/api/folders/{uid}") in fake.requests
        assert fake.folders[uid]["title"] == next(iter(FOLDERS.values())).title

    asyncio.run(_serve(scenario))


def test_push_wrong_token_names_the_fix() -> None:
    """A 401 raises PushError that says which call failed and points at the token setting."""

    async def scenario(fake: FakeGrafana, url: str) -> None:
        with pytest.raises(PushError, match="CITYIOT_GRAFANA_TOKEN") as info:
            await push(_settings(url, token="wrong"))
        assert info.value.status == 401
        assert "wrong" not in str(info.value)  # the secret never reaches the message

    fake = asyncio.run(_serve(scenario))
    assert fake.dashboards == {}
