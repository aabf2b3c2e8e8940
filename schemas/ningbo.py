"""Ningbo's ten county-level divisions (valid since the 2016 reform that abolished 江东区 330204
and turned 奉化市 330283 into 奉化区 330213), with GB/T 2260 adcodes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DISTRICTS_BY_ADCODE",
    "NINGBO_ADCODE",
    "NINGBO_DISTRICTS",
    "NINGBO_DISTRICT_LIST",
    "District",
]

NINGBO_ADCODE = "330200"


class District(BaseModel):
    """A county-level division."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    adcode: str = Field(pattern=r"^\d{6}$")
    name_zh: str
    name_en: str


NINGBO_DISTRICT_LIST: tuple[District, ...] = tuple(
    District(adcode=a, name_zh=zh, name_en=en)
    for a, zh, en in (
        ("330203", "海曙区", "Haishu District"),
        ("330205", "江北区", "Jiangbei District"),
        ("330206", "北仑区", "Beilun District"),
        ("330211", "镇海区", "Zhenhai District"),
        ("330212", "鄞州区", "Yinzhou District"),
        ("330213", "奉化区", "Fenghua District"),
        ("330225", "象山县", "Xiangshan County"),
        ("330226", "宁海县", "Ninghai County"),
        ("330281", "余姚市", "Yuyao City"),
        ("330282", "慈溪市", "Cixi City"),
    )
)

NINGBO_DISTRICTS: dict[str, str] = {
    d.adcode: f"{d.name_zh} {d.name_en}" for d in NINGBO_DISTRICT_LIST
}
"""adcode → bilingual label, e.g. ``"330203": "海曙区 Haishu District"`` (dashboard titles)."""

DISTRICTS_BY_ADCODE: dict[str, District] = {d.adcode: d for d in NINGBO_DISTRICT_LIST}
