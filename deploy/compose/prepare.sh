#!/bin/sh
# Prepare deploy/compose/ for `docker compose up`, after `cityiot acl` and `cityiot certs`:
#   - secrets/: random passwords (kept if present) of the InfluxDB admin (and its token), of the
#     InfluxDB users cityiot-writer and cityiot-reader, of the Kafka users (cityiot-admin,
#     -collector, -streams, -notifier, -tools, -replay) and of Grafana's admin; and the env
#     files the cityiot services read (collector.env, simulator.env), filled from
#     mqtt-auth/secrets/<user>.password;
#   - data/mosquitto/: Mosquitto's persistence, owned by you (the broker runs as your uid);
#   - .env from .env.example (HOST_UID/HOST_GID set to yours) unless it exists.
# Everything secret is written 0600 under a 0700 folder and never printed.
# Usage: deploy/compose/prepare.sh [MQTT_AUTH_DIR] [TLS_DIR]   (defaults: ./mqtt-auth ./tls)
set -eu
cd "$(dirname "$0")"
auth=${1:-./mqtt-auth}
tls=${2:-./tls}
umask 077

fail() { echo "prepare.sh: $1" >&2; exit 1; }
[ -f "$auth/mosquitto.passwd" ] || fail "no $auth/mosquitto.passwd; fix: cityiot acl --simulator --registry FILE --out $auth"
[ -f "$tls/server.crt" ] && [ -f "$tls/ca.crt" ] || fail "no $tls/server.crt; fix: cityiot certs --host mosquitto --host YOUR.BROKER.NAME --out $tls"

random() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-40; }
keep_or_make() {  # keep an existing secret, else a random one
    [ -s "$1" ] || random > "$1"
    chmod 600 "$1"
}
env_file() {  # env_file NAME VAR SOURCE_FILE: one line VAR=<first line of SOURCE_FILE>
    printf '%s=%s\n' "$2" "$(head -n 1 "$3")" > "secrets/$1.tmp"
    chmod 600 "secrets/$1.tmp"
    mv "secrets/$1.tmp" "secrets/$1"
}

mkdir -p secrets data/mosquitto
chmod 700 secrets
keep_or_make secrets/influxdb-admin-password
keep_or_make secrets/influxdb-admin-token
keep_or_make secrets/grafana-admin-password
keep_or_make secrets/influxdb-writer-password
keep_or_make secrets/influxdb-reader-password
for user in admin collector streams notifier tools replay; do
    keep_or_make "secrets/kafka-$user-password"
done
env_file collector.env CITYIOT_MQTT_PASSWORD "$auth/secrets/cityiot-collector.password"
if [ -f "$auth/secrets/cityiot-simulator.password" ]; then
    env_file simulator.env CITYIOT_MQTT_PASSWORD "$auth/secrets/cityiot-simulator.password"
else
    # The demo profile's simulator needs `cityiot acl --simulator`; an empty file keeps compose valid.
    : > secrets/simulator.env
fi
if [ ! -f .env ]; then
    umask 022
    sed -e "s/^HOST_UID=.*/HOST_UID=$(id -u)/" -e "s/^HOST_GID=.*/HOST_GID=$(id -g)/" \
        .env.example > .env
fi
echo "prepared $(pwd): secrets/ (0600), data/mosquitto/, .env"
