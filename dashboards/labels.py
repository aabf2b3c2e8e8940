"""Bilingual words of the dashboards: panel titles and display names of tag values.

The ops teams read Chinese, the vendors' engineers often English, so every title and every tag
value shown on a panel (payment method, facility, bin category, district) carries both.
"""

from __future__ import annotations

from schemas.ningbo import NINGBO_DISTRICT_LIST

__all__ = [
    "CATEGORY_COLORS",
    "CATEGORY_NAMES",
    "DIRECTION_NAMES",
    "DISTRICT_NAMES",
    "FACILITY_NAMES",
    "GATE_METHOD_NAMES",
    "PAYMENT_NAMES",
    "TAP_NAMES",
    "TRANSIT_MODE_NAMES",
    "title",
]

# Bilingual labels for tag values, applied as display names (series) and value mappings (cells).
PAYMENT_NAMES = {
    "wechat": "微信 WeChat Pay",
    "alipay": "支付宝 Alipay",
    "unionpay": "云闪付 UnionPay",
    "ecny": "数字人民币 e-CNY",
    "transit_card": "交通卡 Transit card",
    "cash": "现金 Cash",
}
FACILITY_NAMES = {
    "vending": "售货机 Vending",
    "recycling": "回收站 Recycling",
    "mobility": "移动资产 Mobility",
    "store": "无人店 Stores",
    "transit": "公共交通 Transit",
}
# Store gates (FIWARE CrowdFlowObserved's direction) and how visitors open them.
DIRECTION_NAMES = {"inbound": "进店 In", "outbound": "离店 Out"}
GATE_METHOD_NAMES = {"face": "刷脸 Face", "qr": "扫码 QR", "card": "刷卡 Card"}
# Transit validators: the mode they serve and the kind of tap.
TRANSIT_MODE_NAMES = {"bus": "公交 Bus", "metro": "地铁 Metro", "bike": "公共自行车 Bike"}
TAP_NAMES = {"in": "进站上车 In", "out": "出站下车 Out", "single": "单次刷卡 Single"}
CATEGORY_NAMES = {
    "recyclable": "可回收物 Recyclable",
    "kitchen": "厨余垃圾 Kitchen",
    "hazardous": "有害垃圾 Hazardous",
    "other": "其他垃圾 Other",
}
DISTRICT_NAMES = {d.adcode: f"{d.name_zh} {d.name_en.split()[0]}" for d in NINGBO_DISTRICT_LIST}
# Ningbo's four statutory bin colours (blue, green, red, black): operators read them at a glance.
CATEGORY_COLORS = {
    "recyclable": "blue",
    "kitchen": "green",
    "hazardous": "red",
    "other": "#555555",
}


def title(zh: str, en: str) -> str:
    """``"中文 / English"``: the ops teams read Chinese, the vendors' engineers often English."""
    return f"{zh} / {en}"
