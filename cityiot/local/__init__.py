"""The embedded default: Mosquitto, Kafka and InfluxDB as child processes under a run directory.

``cityiot services`` and the test fixtures start the servers through this one package.
"""

from cityiot.local.runner import LocalServers
from cityiot.local.state import ServerState, ServicesState, read_state

__all__ = ["LocalServers", "ServerState", "ServicesState", "read_state"]
