"""Program ``python -m cityiot.access.kafka_acls_job``: the service users' ACLs on a Kafka with
authentication, created as the settings' own (admin) user.

The ACLs are :func:`cityiot.access.kafka_users.service_acls` of the settings (topic names, the
streams app id, the notifier's group): the same rules the local runner creates. ACLs already
there are kept, so it runs at every start. ``deploy/compose/compose.yaml`` runs it once Kafka is
healthy, with::

    CITYIOT_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT
    CITYIOT_KAFKA_USERNAME=cityiot-admin
    CITYIOT_KAFKA_PASSWORD_FILE=/run/secrets/kafka_admin_password

Exit status 0 when every ACL exists, 1 (one line on stderr) when Kafka refused one.
"""

from __future__ import annotations

import sys

from cityiot.access.kafka_users import apply_acls, service_acls
from core.errors import CityiotError
from core.settings import Settings

__all__ = ["main"]


def main() -> int:
    settings = Settings()
    k = settings.kafka
    acls = service_acls(settings)
    try:
        apply_acls({"bootstrap.servers": k.bootstrap_servers, **k.librdkafka_security()}, acls)
    except CityiotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"kafka: {len(acls)} ACLs in place for {k.bootstrap_servers} as {k.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
