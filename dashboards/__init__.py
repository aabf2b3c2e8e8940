"""Grafana dashboards as code: build JSON, check it against a contract, push it, snapshot it.

Start with :func:`build_all` (every dashboard as Grafana JSON), :func:`write_dashboards` (the
folder layout the provisioning provider reads), :func:`push` (Grafana's HTTP API) and
:func:`render_snapshots` (PNG without Grafana). ``dashboards/README.md`` lists every panel.
"""

from __future__ import annotations

from core.settings.grafana import GrafanaSettings
from dashboards.build import BOARDS, Board, build_all, write_dashboards
from dashboards.contract import check_dashboard
from dashboards.push import PushError, push
from dashboards.snapshot import render_snapshots

__all__ = [
    "BOARDS",
    "Board",
    "GrafanaSettings",
    "PushError",
    "build_all",
    "check_dashboard",
    "push",
    "render_snapshots",
    "write_dashboards",
]
