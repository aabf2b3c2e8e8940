"""``cityiot dashboards push`` as a process, against a real HTTP server that answers like
Grafana's folder and dashboard API (``dashboards/push.py`` calls nothing else)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cli_support import Answer, Request, cityiot_env, http_server, run_cityiot

from dashboards.boards.common import FOLDERS
from dashboards.build import BOARDS, build_all

pytestmark = pytest.mark.integration

TOKEN = "glsa_cli-tok3n-DO-NOT-ECHO"
# A service account with the Viewer role: Grafana lets it read, and answers 403 to a write.
VIEWER_TOKEN = "glsa_viewer-tok3n-DO-NOT-ECHO"
ORG = "3"
# push creates the folders first: a refused token fails on this one's lookup.
FIRST_FOLDER = next(iter(FOLDERS.values())).uid


class FakeGrafana:
    """Folders and dashboards by uid; answers 401 to an unknown token and 403 to a viewer's
    write, as Grafana does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.folders: dict[str, str] = {}  # uid → title
        self.versions: dict[str, int] = {}  # dashboard uid → version

    def __call__(self, request: Request) -> Answer:
        token = request.headers.get("authorization")
        if token == f"Bearer {VIEWER_TOKEN}" and request.method != "GET":
            return Answer(403, {"message": "Access denied"})
        if token not in (f"Bearer {TOKEN}", f"Bearer {VIEWER_TOKEN}"):
            return Answer(401, {"message": "invalid API key"})
        with self._lock:
            return self._route(request)

    def _route(self, request: Request) -> Answer:
        method, path = request.method, request.path
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.removeprefix("/api/folders/")
            if uid not in self.folders:
                return Answer(404, {"message": "folder not found"})
            return Answer(200, {"uid": uid, "title": self.folders[uid]})
        if method == "POST" and path == "/api/folders":
            body = request.json()
            self.folders[body["uid"]] = body["title"]
            return Answer(200, {"uid": body["uid"], "title": body["title"]})
        if method == "POST" and path == "/api/dashboards/db":
            body = request.json()
            uid = body["dashboard"]["uid"]
            if body["folderUid"] not in self.folders:
                return Answer(400, {"message": "folder not found"})
            self.versions[uid] = self.versions.get(uid, 0) + 1
            url = f"/d/{uid}/slug"
            return Answer(200, {"uid": uid, "url": url, "version": self.versions[uid]})
        return Answer(404, {"message": f"no route {method} {path}"})


def test_dashboards_push_sends_every_dashboard_with_token_and_org(tmp_path: Path) -> None:
    """Folders created, then each dashboard posted once by uid (overwrite, no id) in its folder,
    every call with the token and org of the settings; stdout lists Grafana's URLs."""
    grafana = FakeGrafana()
    with http_server(grafana) as server:
        env = cityiot_env(
            tmp_path,
            # --url wins over the variable: this one is not listening.
            CITYIOT_GRAFANA_URL="http://127.0.0.1:9",
            CITYIOT_GRAFANA_TOKEN=TOKEN,
            CITYIOT_GRAFANA_ORG=ORG,
        )
        result = run_cityiot(["dashboards", "push", "--url", server.url], env)
    assert result.returncode == 0, result.stderr
    requests = server.requests
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {TOKEN}"}
    assert {r.headers["x-grafana-org-id"] for r in requests} == {ORG}
    assert grafana.folders == {f.uid: f.title for f in FOLDERS.values()}
    posted = [r.json() for r in requests if r.path == "/api/dashboards/db"]
    built = build_all()
    assert [p["dashboard"]["uid"] for p in posted] == [b.uid for b in BOARDS]
    for board, body in zip(BOARDS, posted, strict=True):
        assert body["overwrite"] is True
        assert body["folderUid"] == board.folder.uid
        assert body["dashboard"]["id"] is None
        assert body["dashboard"]["title"] == built[board.uid]["title"]
        assert body["dashboard"]["panels"] == built[board.uid]["panels"]
    assert result.stdout.splitlines() == [f"{server.url}/d/{b.uid}/slug" for b in BOARDS]
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("token", "refused"),
    [
        pytest.param(
            "glsa_wrong-tok3n-DO-NOT-ECHO",
            f"GET /api/folders/{FIRST_FOLDER} answered 401",
            id="wrong-token",
        ),
        pytest.param(None, f"GET /api/folders/{FIRST_FOLDER} answered 401", id="no-token"),
        pytest.param(VIEWER_TOKEN, "POST /api/folders answered 403", id="viewer-token"),
    ],
)
def test_dashboards_push_refused_token_is_one_line_exit_2(
    tmp_path: Path, token: str | None, refused: str
) -> None:
    """Grafana refusing the token: one ``error:`` line starting with CITYIOT_GRAFANA_TOKEN and
    naming the refused call, exit 2 (a setting's error), no traceback, no token; nothing pushed."""
    grafana = FakeGrafana()
    with http_server(grafana) as server:
        variables = {"CITYIOT_GRAFANA_URL": server.url}
        if token is not None:
            variables["CITYIOT_GRAFANA_TOKEN"] = token
        result = run_cityiot(["dashboards", "push"], cityiot_env(tmp_path, **variables))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: CITYIOT_GRAFANA_TOKEN: Grafana refused it")
    assert refused in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    if token is not None:
        assert token not in result.stdout + result.stderr
    assert grafana.folders == {}
    assert grafana.versions == {}
