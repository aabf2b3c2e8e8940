"""Build every dashboard to Grafana JSON and write the folder tree provisioning reads.

Layout of ``DIR`` (``cityiot dashboards build DIR``): one sub-folder per Grafana folder, named by
its uid, one ``<dashboard uid>.json`` inside. The provisioning provider
(``deploy/grafana/provisioning/dashboards/cityiot.yaml``) reads it with
``foldersFromFilesStructure``, and ``folders.json`` beside them gives push the folders' titles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.boards import (
    health,
    mobility,
    overview,
    platform,
    recycling,
    store,
    transit,
    vending,
    vendors,
)
from dashboards.boards.common import FOLDERS, Board, Folder
from dashboards.influxql import register

__all__ = [
    "BOARDS",
    "FOLDERS_FILE",
    "Board",
    "Folder",
    "build_all",
    "build_one",
    "round_trip",
    "to_json",
    "write_dashboards",
]

BOARDS: tuple[Board, ...] = (
    overview.BOARD,
    vending.BOARD,
    recycling.BOARD,
    mobility.BOARD,
    store.BOARD,
    transit.BOARD,
    health.BOARD,
    platform.BOARD,
    vendors.BOARD,
)
FOLDERS_FILE = "folders.json"


def to_json(model: dm.Dashboard) -> dict[str, Any]:
    """The SDK model as plain JSON (what Grafana stores), via the SDK's own encoder."""
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return data


def round_trip(data: dict[str, Any]) -> dict[str, Any]:
    """``to_json(from_json(data))``: differs from ``data`` where a key is unknown or misspelt."""
    register()
    return to_json(dm.Dashboard.from_json(data))


def build_one(board: Board) -> dict[str, Any]:
    """One dashboard's JSON, its panels numbered 1, 2, ... in layout order (stable links)."""
    register()
    model = board.build().build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return to_json(model)


def build_all() -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON by uid, in :data:`BOARDS` order."""
    return {board.uid: build_one(board) for board in BOARDS}


def write_dashboards(directory: Path) -> list[Path]:
    """Write ``DIR/<folder uid>/<dashboard uid>.json`` and ``DIR/folders.json``; return the paths.

    Files of dashboards that no longer exist are left alone: removing a dashboard from Grafana is
    a decision, not a side effect of a build.
    """
    built = build_all()
    written: list[Path] = []
    for board in BOARDS:
        path = directory / board.folder.uid / f"{board.uid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(built[board.uid], ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    folders = {f.uid: f.title for f in FOLDERS.values()}
    index = directory / FOLDERS_FILE
    index.write_text(json.dumps(folders, ensure_ascii=False, indent=2) + "\n")
    written.append(index)
    return written
