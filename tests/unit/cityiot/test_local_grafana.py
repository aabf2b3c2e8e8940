"""Local Grafana provisioning for `cityiot up`: the datasource uid and folders dashboards use."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cityiot.access.influx_users import READER_USER
from cityiot.access.passwords import PasswordDir
from cityiot.local.grafana import DATASOURCE_UID, grafana_env, write_provisioning
from dashboards.boards.common import FOLDERS


def test_local_grafana_provisioning_points_at_built_dashboards(tmp_path: Path) -> None:
    """The datasource is the local InfluxDB by its fixed uid; each provider path holds JSON."""
    provisioning = write_provisioning(
        tmp_path, influxdb_url="http://127.0.0.1:8086", database="city"
    )
    source = yaml.safe_load((provisioning / "datasources" / "cityiot.yaml").read_text())
    (ds,) = source["datasources"]
    assert ds["uid"] == DATASOURCE_UID
    assert ds["url"] == "http://127.0.0.1:8086"
    assert ds["jsonData"]["dbName"] == "city"
    providers = yaml.safe_load((provisioning / "dashboards" / "cityiot.yaml").read_text())
    assert {p["folderUid"] for p in providers["providers"]} == {f.uid for f in FOLDERS.values()}
    for provider in providers["providers"]:
        boards = sorted(Path(provider["options"]["path"]).glob("*.json"))
        assert boards, provider["name"]
        for board in boards:
            assert json.loads(board.read_text())["uid"]


def test_local_grafana_env_stays_on_loopback(tmp_path: Path) -> None:
    """Grafana listens on 127.0.0.1 only and keeps its data under the run directory."""
    env = grafana_env(tmp_path, tmp_path / "provisioning")
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert env["GF_PATHS_DATA"].startswith(str(tmp_path))


def test_local_grafana_reads_as_the_read_only_user(tmp_path: Path) -> None:
    """With InfluxDB's auth folder: the reader user, its password left in its file for Grafana
    to read ($__file), never copied into the provisioning."""
    auth = tmp_path / "influxdb-auth"
    PasswordDir(auth).ensure([READER_USER])
    provisioning = write_provisioning(
        tmp_path / "grafana",
        influxdb_url="http://127.0.0.1:8086",
        database="city",
        influxdb_auth_dir=auth,
    )
    text = (provisioning / "datasources" / "cityiot.yaml").read_text()
    (ds,) = yaml.safe_load(text)["datasources"]
    assert ds["user"] == READER_USER
    secret_file = auth.resolve() / "secrets" / f"{READER_USER}.password"
    assert ds["secureJsonData"]["password"] == f"$__file{{{secret_file}}}"
    assert PasswordDir(auth).password(READER_USER) not in text
