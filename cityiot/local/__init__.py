"""The embedded default: Mosquitto, Tansu and InfluxDB as child processes under a run directory.

``cityiot services`` and the test fixtures start the servers through this one package.
"""

from cityiot.local.runner import LocalServers, ServerState, ServicesState, read_state

__all__ = ["LocalServers", "ServerState", "ServicesState", "read_state"]
