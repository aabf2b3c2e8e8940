"""Bilingual words of the dashboards: panel titles and display names of tag values.

The ops teams read Chinese, the vendors' engineers often English, so every title and every tag
value shown on a panel (payment method, facility, bin category, district) carries both.
"""

from __future__ import annotations

from schemas.ningbo import NINGBO_DISTRICT_LIST

__all__ = [
    "CATEGORY_COLORS",
    "CATEGORY_NAMES",
    "DISTRICT_NAMES",
    "FACILITY_NAMES",
    "PAYMENT_NAMES",
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
}
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
