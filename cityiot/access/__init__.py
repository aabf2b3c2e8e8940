"""Access control for Mosquitto: one user per vendor, kept inside its own topic subtree.

``cityiot acl`` writes the password file and ACL from the device registry's vendors; the local
runner starts Mosquitto with them when ``CITYIOT_MQTT_AUTH_DIR`` is set.
"""

from cityiot.access.acl import (
    COLLECTOR_USER,
    PROBE_USER,
    SIMULATOR_USER,
    AuthFiles,
    render_acl,
    render_device_acl,
    write_auth_dir,
)

__all__ = [
    "COLLECTOR_USER",
    "PROBE_USER",
    "SIMULATOR_USER",
    "AuthFiles",
    "render_acl",
    "render_device_acl",
    "write_auth_dir",
]
