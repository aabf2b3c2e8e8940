"""A raw InfluxQL query for grafana-foundation-sdk, which ships no InfluxDB query type.

The JSON is what Grafana's InfluxDB datasource stores for a query typed in raw mode
(``rawQuery: true``): the text goes to ``/query`` as is, after Grafana expands ``$timeFilter``,
``$__interval`` and the dashboard variables. Raw InfluxQL is the one query form InfluxDB 1.x, 2.x
(DBRP) and 3.x all answer, so no panel uses the visual editor's ``select``/``groupBy`` model.

:func:`register` teaches the SDK's ``Dashboard.from_json`` to decode these targets with this class,
so the round trip ``to_json(from_json(d)) == d`` fails on any key this class does not know.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import plugins as cogplugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard, expr

__all__ = [
    "DATASOURCE",
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "DATASOURCE_VARIABLE",
    "InfluxQL",
    "InfluxQLQuery",
    "ResultFormat",
    "register",
]

DATASOURCE_TYPE = "influxdb"
# The provisioned datasource's fixed uid (deploy/grafana/provisioning/datasources/cityiot.yaml).
DATASOURCE_UID = "cityiot-influxdb"
DATASOURCE_VARIABLE = "datasource"
# Panels point at the variable, not the uid: one dashboard serves several InfluxDB instances.
DATASOURCE = dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=f"${{{DATASOURCE_VARIABLE}}}")

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL target of a panel."""

    def __init__(
        self,
        *,
        ref_id: str = "A",
        query: str = "",
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
        datasource: dashboard.DataSourceRef | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias
        self.hide = hide
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide is not None:
            payload["hide"] = self.hide
        if self.datasource is not None:
            payload["datasource"] = self.datasource.to_json()
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        datasource = data.get("datasource")
        return cls(
            ref_id=data.get("refId", "A"),
            query=data.get("query", ""),
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            hide=data.get("hide"),
            datasource=dashboard.DataSourceRef.from_json(datasource) if datasource else None,
        )


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder in the SDK's style: ``InfluxQL('SELECT ...').ref_id('B').table()``."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query.strip(), datasource=DATASOURCE)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def table(self) -> Self:
        """Rows instead of series: bar charts by tag, geomap points, tables."""
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern, e.g. ``$tag_payment`` (Grafana's InfluxDB alias syntax)."""
        self._internal.alias = alias
        return self

    def hide(self) -> Self:
        """Run but do not draw: an input of a math expression."""
        self._internal.hide = True
        return self


def _decode_target(data: dict[str, Any]) -> cogvariants.Dataquery:
    # Panels carry the InfluxDB datasource, so the SDK asks this hook for every target, the
    # server-side math expressions (datasource ``__expr__``) included: hand those to their class.
    source = data.get("datasource") or {}
    if source.get("type") == "__expr__":
        return expr.variant_config().from_json_hook(data)
    return InfluxQLQuery.from_json(data)


def register() -> None:
    """Register the SDK's panel and query plugins and this query type (idempotent)."""
    cogplugins.register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=_decode_target)
    )
