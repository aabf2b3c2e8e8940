"""Grafana beside the embedded default, when ``grafana-server`` is on PATH.

Grafana cannot be installed on every machine (it is in neither Debian nor PyPI), so ``cityiot up``
only starts it when it finds it, provisioned for the local InfluxDB 1.x (as its read-only user
when it has authentication) with the same datasource uid, folders and dashboards as
``deploy/grafana`` uses in production.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from cityiot.access.influx_users import READER_USER
from cityiot.access.passwords import PasswordDir
from dashboards.boards.common import FOLDERS
from dashboards.build import write_dashboards

__all__ = [
    "DATASOURCE_UID",
    "GRAFANA_PORT",
    "grafana_binary",
    "grafana_env",
    "write_provisioning",
]

DATASOURCE_UID = "cityiot-influxdb"  # the uid every dashboard and alert rule names
GRAFANA_PORT = 3000


def grafana_binary() -> str | None:
    return shutil.which("grafana-server") or shutil.which("grafana")


def write_provisioning(
    directory: Path, *, influxdb_url: str, database: str, influxdb_auth_dir: Path | None = None
) -> Path:
    """Datasource and dashboard providers under ``directory/provisioning``; dashboards built
    into ``directory/dashboards/<folder uid>``. Returns the provisioning folder.

    ``influxdb_auth_dir`` (InfluxDB with auth): the datasource reads as the read-only user,
    its password taken from its file by Grafana itself (``$__file{...}``), not copied here.
    """
    provisioning = directory / "provisioning"
    (provisioning / "datasources").mkdir(parents=True, exist_ok=True)
    (provisioning / "dashboards").mkdir(parents=True, exist_ok=True)
    boards = directory / "dashboards"
    write_dashboards(boards)
    influxdb: dict[str, object] = {
        "name": DATASOURCE_UID,
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "isDefault": True,
        "url": influxdb_url,
        "jsonData": {"dbName": database, "httpMode": "POST", "timeInterval": "1m"},
    }
    if influxdb_auth_dir is not None:
        password_file = PasswordDir(influxdb_auth_dir.resolve()).secret_file(READER_USER)
        influxdb["user"] = READER_USER
        influxdb["secureJsonData"] = {"password": f"$__file{{{password_file}}}"}
    datasource = {"apiVersion": 1, "datasources": [influxdb]}
    providers = {
        "apiVersion": 1,
        "providers": [
            {
                "name": folder.uid,
                "type": "file",
                "folder": folder.title,
                "folderUid": folder.uid,
                "allowUiUpdates": False,
                "options": {"path": str(boards / folder.uid)},
            }
            for folder in FOLDERS.values()
        ],
    }
    (provisioning / "datasources" / "cityiot.yaml").write_text(
        yaml.safe_dump(datasource, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (provisioning / "dashboards" / "cityiot.yaml").write_text(
        yaml.safe_dump(providers, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return provisioning


def grafana_env(directory: Path, provisioning: Path, port: int = GRAFANA_PORT) -> dict[str, str]:
    """Grafana's own ``GF_*`` settings: loopback, data in the run directory, anonymous viewers."""
    return {
        "GF_PATHS_PROVISIONING": str(provisioning),
        "GF_PATHS_DATA": str(directory / "data"),
        "GF_PATHS_LOGS": str(directory / "logs"),
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
    }
