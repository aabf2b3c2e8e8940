"""Protocol gateways: terminals that cannot speak MQTT, translated onto the platform's messages.

Each gateway is a subpackage (``gateways.jt808``: BeiDou vehicle terminals over JT/T 808) that
terminates the terminals' own protocol and publishes the platform's JSON over MQTT as its
vendor's user, so the broker's ACL, the collectors' checks and everything after them apply
unchanged. Gateways import ``schemas`` and ``core`` only.
"""

from __future__ import annotations

__all__: list[str] = []
