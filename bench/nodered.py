"""Node-RED for the peer of ``bench/e2e.py``: installed once, a batch flow, one process.

Node-RED (pinned below) and node-red-contrib-influxdb are installed with npm into a cache outside
the repository (``$XDG_CACHE_HOME/cityiot/bench/node-red``, by default under ``~/.cache``); a
marker file records what was installed, so a later run reuses it. The flow is the usual batch
flow of a Node-RED deployment:

    mqtt in (QoS 1, persistent session) → json → join (1000 messages or 1 s, an array)
      → function (one point per message: measurement, device/facility/vendor tags, the
        payload's scalar fields, device time + seq as the timestamp) → influxdb batch (v1.x)

and beside it a ``complete`` node that counts the points each write delivered, served by an
``http in`` endpoint: the analogue of the worker's ``cityiot_stream_events_total``. Node-RED
listens on 127.0.0.1 only, with no editor and no admin API: the flow comes from its file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from cityiot.local.ports import free_port
from cityiot.local.runner import die_with_parent
from cityiot.reconcile import CHANNEL_MEASUREMENTS, STATUS_MEASUREMENT
from schemas import Facility

NODE_RED_VERSION = "4.1.8"
INFLUXDB_NODES_VERSION = "0.7.0"
PACKAGES = (f"node-red@{NODE_RED_VERSION}", f"node-red-contrib-influxdb@{INFLUXDB_NODES_VERSION}")
MIN_NODE = 18  # Node-RED 4's engines field
# A cold npm cache downloads ~280 packages (~100 MB): a minute on a slow link.
NPM_TIMEOUT_S = 600.0
# The join node's batch, as a Node-RED deployment would size it for InfluxDB.
BATCH_COUNT, BATCH_TIMEOUT_S = 1000, 1
# Node-RED loads its nodes and connects in a few seconds; a busy machine takes longer.
STARTUP_TIMEOUT_S = 60.0
# MQTT.js subscribes right after the CONNACK that Node-RED logs; this covers the SUBACK.
SUBSCRIBE_SETTLE_S = 1.0
STOP_TIMEOUT_S = 10.0
STORED_PATH = "/bench/stored"


class NodeRedUnavailable(Exception):
    """Node-RED cannot run here, or stopped: what is missing or what failed, in one line."""


# -- installation ------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where Node-RED is installed: outside any checkout, shared by every run of this user."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cityiot" / "bench" / "node-red"


def ensure_installed() -> Path:
    """``red.js`` of the pinned Node-RED, installed with npm on first use.

    Raises:
        NodeRedUnavailable: node is missing or too old, npm is missing (to install), or failed.
    """
    if shutil.which("node") is None:
        raise NodeRedUnavailable(f"node not found on PATH (Node.js ≥ {MIN_NODE} runs Node-RED 4.1)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    major = version.stdout.strip().lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < MIN_NODE:
        raise NodeRedUnavailable(
            f"node {version.stdout.strip()!r}: Node-RED 4.1 needs ≥ {MIN_NODE}"
        )
    root = cache_dir()
    red = root / "node_modules" / "node-red" / "red.js"
    marker = root / ".complete"
    spec = " ".join(PACKAGES)
    if marker.exists() and marker.read_text() == spec and red.exists():
        return red
    if shutil.which("npm") is None:
        raise NodeRedUnavailable(f"npm not found on PATH (it installs {spec} once)")
    root.mkdir(parents=True, exist_ok=True)
    # Its own package.json, so npm installs here rather than into an enclosing project.
    (root / "package.json").write_text('{"name": "cityiot-bench-node-red", "private": true}\n')
    print(f"installing {spec} into {root} (once)", flush=True)
    cmd = ["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", "--omit=dev"]
    try:
        proc = subprocess.run(
            [*cmd, "--loglevel=error", *PACKAGES],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeRedUnavailable(f"npm install took over {NPM_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0 or not red.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise NodeRedUnavailable(f"npm install failed (exit {proc.returncode}): {last}")
    marker.write_text(spec)
    return red


# -- the flow (pure) ---------------------------------------------------------------------------
def measurements() -> dict[str, str]:
    """``facility/channel`` → measurement: the names of cityiot's raw points."""
    status = {f"{facility.value}/status": STATUS_MEASUREMENT for facility in Facility}
    return {**CHANNEL_MEASUREMENTS, **status}


# The function node: a message's topic is {prefix}/{facility}/{vendor}/{device}/{channel}. Only
# scalar fields are kept (line protocol has no null, list or object; ts and the schema version v
# are not data), and the timestamp is device time in ns plus seq, as cityiot stamps raw points,
# so no two messages of a device collide.
POINTS_JS = """\
const MEASUREMENTS = %s;
const points = [];
for (const m of msg.payload) {
    const parts = m.topic.split("/");
    const body = m.payload;
    const measurement = MEASUREMENTS[parts[1] + "/" + parts[4]];
    if (measurement === undefined || body === null || typeof body !== "object") continue;
    const fields = {};
    for (const [key, value] of Object.entries(body)) {
        const type = typeof value;
        const scalar = type === "number" || type === "boolean" || type === "string";
        if (scalar && key !== "ts" && key !== "v") {
            fields[key] = value;
        }
    }
    const ms = typeof body.ts === "number" ? body.ts : Date.parse(body.ts);
    const seq = Number.isInteger(body.seq) ? body.seq : 0;
    if (!Number.isFinite(ms)) continue;
    points.push({
        measurement: measurement,
        tags: {device: parts[3], facility: parts[1], vendor: parts[2]},
        fields: fields,
        timestamp: (BigInt(ms) * 1000000n + BigInt(seq %% 1000000)).toString(),
    });
}
msg.payload = points;
return msg;
"""
COUNT_JS = "flow.set('stored', (flow.get('stored') || 0) + msg.payload.length);\nreturn null;"
SERVE_COUNT_JS = "msg.payload = String(flow.get('stored') || 0);\nreturn msg;"


def _id(name: str) -> str:
    """A node id. Node-RED takes any property value equal to a node id for a reference to it,
    so ids must differ from every value in the flow ("influxdb" would depend on itself)."""
    return f"bench.{name}"


def flow(
    *, topic_filter: str, mqtt_port: int, influxdb_port: int, database: str, client_id: str
) -> list[dict[str, Any]]:
    """The Node-RED flow file: the batch flow, plus the count of points InfluxDB accepted."""
    tab = _id("tab")

    def node(name: str, kind: str, wires: list[str], **config: Any) -> dict[str, Any]:
        outputs = [_id(w) for w in wires]
        return {"id": _id(name), "type": kind, "z": tab, "wires": [outputs], **config}

    def function(name: str, code: str, wires: list[str]) -> dict[str, Any]:
        return node(name, "function", wires, func=code, outputs=1, noerr=0, libs=[])

    return [
        {"id": tab, "type": "tab", "label": "cityiot bench peer"},
        {
            "id": _id("broker"),
            "type": "mqtt-broker",
            "broker": "127.0.0.1",
            "port": str(mqtt_port),
            "clientid": client_id,
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": False,  # a persistent session, as the collectors keep
        },
        {
            "id": _id("influxdb"),
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": str(influxdb_port),
            "protocol": "http",
            "database": database,
            "influxdbVersion": "1.x",
            "usetls": False,
        },
        node(
            "mqtt-in",
            "mqtt in",
            ["json"],
            topic=topic_filter,
            qos="1",
            datatype="utf8",
            broker=_id("broker"),
            nl=False,
            rap=True,
            rh=0,
            inputs=0,
        ),
        node("json", "json", ["join"], property="payload", action="obj", pretty=False),
        node(
            "join",
            "join",
            ["points"],
            mode="custom",
            build="array",
            property="",
            propertyType="full",
            key="topic",
            joiner="\\n",
            joinerType="str",
            useparts=False,
            accumulate=False,
            timeout=str(BATCH_TIMEOUT_S),
            count=str(BATCH_COUNT),
        ),
        function("points", POINTS_JS % json.dumps(measurements(), sort_keys=True), ["write"]),
        node(
            "write",
            "influxdb batch",
            [],
            influxdb=_id("influxdb"),
            precision="",
            retentionPolicy="",
        ),
        node("written", "complete", ["count"], scope=[_id("write")], uncaught=False),
        function("count", COUNT_JS, []),
        node("stored-in", "http in", ["serve"], url=STORED_PATH, method="get", upload=False),
        function("serve", SERVE_COUNT_JS, ["stored-out"]),
        node("stored-out", "http response", [], statusCode="", headers={}),
    ]


SETTINGS_JS = """\
// Written by bench/nodered.py: loopback only, no editor, no admin API, nothing sent home.
module.exports = {
    uiHost: "127.0.0.1",
    httpAdminRoot: false,
    flowFile: "flows.json",
    credentialSecret: false,
    logging: {console: {level: "info", metrics: false, audit: false}},
    diagnostics: {enabled: false, ui: false},
    telemetry: {enabled: false},
    functionExternalModules: false,
};
"""


# -- the process -------------------------------------------------------------------------------
class NodeRed:
    """One Node-RED process running :func:`flow` from ``user_dir``."""

    def __init__(self, red_js: Path, user_dir: Path, flow_nodes: list[dict[str, Any]]) -> None:
        self.red_js = red_js
        self.user_dir = user_dir
        self.flow_nodes = flow_nodes
        self.port = free_port()
        self.log = user_dir / "node-red.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        """Start it and wait until its MQTT client is connected and its endpoint answers.

        Raises:
            NodeRedUnavailable: it exited or was not ready within ``STARTUP_TIMEOUT_S``.
        """
        self.user_dir.mkdir(parents=True, exist_ok=True)
        (self.user_dir / "settings.js").write_text(SETTINGS_JS)
        (self.user_dir / "flows.json").write_text(json.dumps(self.flow_nodes, indent=1))
        cmd = ["node", str(self.red_js), "--userDir", str(self.user_dir), "--port", str(self.port)]
        cmd += ["--settings", str(self.user_dir / "settings.js"), "flows.json"]
        with self.log.open("wb") as log:  # fresh: its "Connected" line is the signal below
            try:
                self.proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
                )
            except OSError as exc:  # node gone since ensure_installed
                raise NodeRedUnavailable(f"cannot start node: {exc}") from exc
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while "Connected to broker" not in self.log.read_text(errors="replace") or (
            self.stored() is None
        ):
            self.check()
            if time.monotonic() > deadline:
                raise NodeRedUnavailable(
                    f"Node-RED not ready after {STARTUP_TIMEOUT_S:.0f} s; log: {self.log}"
                )
            time.sleep(0.2)
        time.sleep(SUBSCRIBE_SETTLE_S)

    def check(self) -> None:
        """Raises NodeRedUnavailable if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise NodeRedUnavailable(
                f"Node-RED exited with {self.proc.returncode}; log: {self.log}"
            )

    def stored(self) -> int | None:
        """Points InfluxDB accepted so far, as the flow counts them (None while it is not up)."""
        try:
            url = f"http://127.0.0.1:{self.port}{STORED_PATH}"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(resp.read())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
