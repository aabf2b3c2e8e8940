"""Dashboard variables: the datasource, and the tag filters district → facility → vendor.

District and facility are closed sets known to the code (``schemas.ningbo``, ``schemas.topic``),
so they are custom variables with bilingual labels (``海曙区 Haishu : 330203``) and no query; vendor
is open-ended (vendors join every month), so it is read from InfluxDB, chained on the two others.
"All" is ``.*`` rather than the list of values, so points without the tag (a bike outside every
district) still count in city totals.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.influxql import DATASOURCE, DATASOURCE_TYPE, DATASOURCE_VARIABLE
from dashboards.labels import DISTRICT_NAMES, FACILITY_NAMES

__all__ = ["ALL", "Variable", "datasource", "district", "facility", "matches", "vendor"]

ALL = ".*"
Variable = cogbuilder.Builder[dm.VariableModel]
# Measurement every device has a series in (its health), so the vendor list is complete.
VENDOR_SOURCE = "device_health"


def _all() -> dm.VariableOption:
    return dm.VariableOption(text="All", value="$__all", selected=True)


def datasource() -> Variable:
    """Any InfluxDB datasource; the provisioned ``cityiot-influxdb`` is picked by default."""
    return (
        dashboard.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("数据源 Datasource")
        .type(DATASOURCE_TYPE)
        .current(dm.VariableOption(text="cityiot-influxdb", value="cityiot-influxdb"))
    )


def _custom(name: str, label: str, values: dict[str, str]) -> Variable:
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .values(",".join(f"{text} : {value}" for value, text in values.items()))
        .multi(True)
        .include_all(True)
        .all_value(ALL)
        .current(_all())
    )


def district() -> Variable:
    return _custom("district", "区县 District", DISTRICT_NAMES)


def facility() -> Variable:
    return _custom("facility", "设施 Facility", FACILITY_NAMES)


def vendor(*, chained_on: Sequence[str] = ("district", "facility")) -> Variable:
    """Vendors seen in the chosen values of ``chained_on`` (the dashboard's filters before it)."""
    query = f'SHOW TAG VALUES FROM "{VENDOR_SOURCE}" WITH KEY = "vendor"'
    if chained_on:
        query += f" WHERE {matches(*chained_on)}"
    return (
        dashboard.QueryVariable("vendor")
        .label("厂商 Vendor")
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(ALL)
        .current(_all())
    )


def matches(*tags: str) -> str:
    """``"district" =~ /^$district$/ AND ...``: how Grafana formats multi-value variables for
    InfluxDB (``(a|b)``, regex-escaped) fits inside ``/^...$/``."""
    return " AND ".join(f'"{tag}" =~ /^${tag}$/' for tag in tags)
