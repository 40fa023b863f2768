#!/bin/sh
# bench/connector/run.sh BUILD_DIR [COUNT] [PAYLOAD_BYTES]
#
# Messages per second into a local mosquitto through the connector SDK's MQTT publisher
# (QoS 0, QoS 1 through the disk queue), next to the ceiling of the same broker fed by raw
# libmosquitto and by `mosquitto_pub -l`, COUNT (default 100000) messages of PAYLOAD_BYTES
# (default 200). The bench process is pinned to one core (taskset -c 0); the broker it
# starts on a loopback port of its own choosing runs unpinned. Build BUILD_DIR with the
# release preset first. Prints the machine and the load average before and after.
set -eu

BUILD=${1:?usage: bench/connector/run.sh BUILD_DIR [COUNT] [PAYLOAD_BYTES]}
COUNT=${2:-100000}
PAYLOAD=${3:-200}
BENCH=$BUILD/bench/bench_connector_mqtt

[ -x "$BENCH" ] || { echo "missing $BENCH: build $BUILD first" >&2; exit 2; }
for f in /usr/sbin/mosquitto /usr/bin/mosquitto_pub; do
    [ -x "$f" ] || { echo "missing $f (Debian packages mosquitto, mosquitto-clients)" >&2; exit 2; }
done

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), RAM $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "mosquitto: $(/usr/sbin/mosquitto -h 2>&1 | head -n 1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
taskset -c 0 "$BENCH" --count "$COUNT" --payload "$PAYLOAD"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
