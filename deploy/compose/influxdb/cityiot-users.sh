#!/bin/bash
# The InfluxDB users of the cityiot services, as v1 authorizations of the bucket: the v1 API's
# username and password, which cityiot (Basic auth) and Grafana's InfluxQL datasource send.
#   cityiot-writer  write only  the streams workers (CITYIOT_INFLUXDB_USERNAME in compose.yaml)
#   cityiot-reader  read only   Grafana's datasource (deploy/grafana/provisioning)
# The influxdb:2.7 image runs it once, after its first-run setup (/docker-entrypoint-initdb.d),
# with the influx CLI logged in as the admin. On a volume set up before it existed, run it by hand:
#   docker compose -f deploy/compose/compose.yaml exec influxdb \
#     bash /docker-entrypoint-initdb.d/cityiot-users.sh
# Passwords are Compose secrets written by prepare.sh; nothing here prints them.
set -euo pipefail

org=${DOCKER_INFLUXDB_INIT_ORG:?}
bucket=${DOCKER_INFLUXDB_INIT_BUCKET:?}
bucket_id=${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --org "$org" --name "$bucket" --hide-headers | cut -f1)}

create() {  # create USER --write-bucket|--read-bucket SECRET_NAME
    influx v1 auth create --org "$org" --username "$1" \
        --password "$(tr -d '\r\n' < "/run/secrets/$3")" "$2" "$bucket_id" > /dev/null
}
create cityiot-writer --write-bucket influxdb_writer_password
create cityiot-reader --read-bucket influxdb_reader_password
echo "cityiot-users.sh: cityiot-writer (write) and cityiot-reader (read) on bucket $bucket"
