"""Field config shared by the panel kinds and the boards: thresholds, names, colours, mappings.

Also the two ways Grafana computes what one plain InfluxQL query cannot: server-side math
expressions over a panel's queries, and the ``groupBy`` transformation.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard, expr
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm

__all__ = [
    "Override",
    "Query",
    "display_names",
    "fixed_colors",
    "group_latest",
    "math",
    "steps",
    "value_names",
]

Query = cogbuilder.Builder[cogvariants.Dataquery]
Override = cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]


def steps(*points: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    """Absolute thresholds; the first point's value must be None (Grafana's base step)."""
    return (
        dashboard.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in points])
    )


def math(ref_id: str, expression: str) -> expr.TypeMath:
    """A Grafana server-side math expression (``$A / $B * 100``) over the panel's queries.

    Used for shares: a ratio of two differently filtered sums needs a subquery in InfluxQL; the
    division happens in Grafana instead, over two plain sums.
    """
    return (
        expr.TypeMath()
        .ref_id(ref_id)
        .expression(expression)
        .datasource(dm.DataSourceRef(type_val="__expr__", uid="__expr__"))
    )


def display_names(mapping: dict[str, str]) -> list[Override]:
    """Series display names by series name (``$tag_payment`` alias → 微信 WeChat Pay)."""
    return [
        dashboard.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val="byName", options=key))
        .properties([dm.DynamicConfigValue(id_val="displayName", value=label)])
        for key, label in mapping.items()
    ]


def fixed_colors(mapping: dict[str, str]) -> list[Override]:
    """A fixed colour per series name (the bin categories' statutory colours)."""
    return [
        dashboard.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val="byName", options=key))
        .properties(
            [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color})]
        )
        for key, color in mapping.items()
    ]


def value_names(mapping: dict[str, str]) -> list[dm.ValueMapping]:
    """Value mappings (table cells, bar-chart x labels): adcode → 海曙区 Haishu."""
    if not mapping:
        return []
    options = {
        key: dm.ValueMappingResult(text=label, index=i)
        for i, (key, label) in enumerate(mapping.items())
    }
    return [dm.ValueMap(options=options)]


def group_latest(by: str, fields: Sequence[str]) -> dm.DataTransformerConfig:
    """Grafana ``groupBy``: one row per ``by`` value, each of ``fields`` at its last value."""
    spec: dict[str, object] = {by: {"operation": "groupby"}}
    for name in fields:
        spec[name] = {"operation": "aggregate", "aggregations": ["lastNotNull"]}
    return dm.DataTransformerConfig(id_val="groupBy", options={"fields": spec})
