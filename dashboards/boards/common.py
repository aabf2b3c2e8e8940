"""What every board shares: the dashboard shell, its folder, and the WHERE clause."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.labels import title
from dashboards.variables import Variable, matches

__all__ = [
    "FOLDERS",
    "HEALTH_TICK",
    "SUCCESS",
    "TIMEZONE",
    "Board",
    "Folder",
    "new_dashboard",
    "where",
]

# Ningbo's operators read times in Beijing time; "today" (now/d) starts at local midnight.
TIMEZONE = "Asia/Shanghai"
DEFAULT_RANGE = ("now-6h", "now")
REFRESH = "1m"  # roll-ups are per minute: refreshing faster shows nothing new
# streams writes device_health and devices_online once per CITYIOT_STREAM_HEALTH_INTERVAL_S
# (default 30 s), every worker at the same instant (now rounded down to the interval). Online
# counts are summed over districts and partitions per tick, so they group by exactly this step:
# a wider bucket would add two ticks' counts together.
HEALTH_TICK = "30s"
# Raw vending sales include failed and refunded vends (field ``outcome``, a tag on the roll-ups).
SUCCESS = "\"outcome\" = 'success'"


@dataclass(frozen=True)
class Folder:
    uid: str
    title: str


FOLDERS = {
    "operations": Folder("cityiot-operations", "城市运营 City operations"),
    "platform": Folder("cityiot-platform", "平台运维 Platform operations"),
}


@dataclass(frozen=True)
class Board:
    """One dashboard: its stable uid (URLs and push overwrite by it), folder and builder."""

    uid: str
    folder: Folder
    build: Callable[[], dashboard.Dashboard]


def new_dashboard(
    uid: str,
    zh: str,
    en: str,
    *,
    tags: Sequence[str],
    variables: Sequence[Variable],
    time_range: tuple[str, str] = DEFAULT_RANGE,
    refresh: str = REFRESH,
) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title(zh, en))
        .uid(uid)
        .tags(["cityiot", *tags])
        .timezone(TIMEZONE)
        .time(*time_range)
        .refresh(refresh)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .editable()
        .variables(list(variables))
    )


def where(*tags: str) -> str:
    """``WHERE $timeFilter AND "district" =~ /^$district$/ ...`` for the given tag variables."""
    clause = "WHERE $timeFilter"
    return f"{clause} AND {matches(*tags)}" if tags else clause
