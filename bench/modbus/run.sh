#!/bin/sh
# bench/modbus/run.sh BUILD_DIR [--only ours,perpoint,nodered] [--servers N] [--duration S] [...]
#
# The Modbus connector figures of docs/benchmarks.md (issue "The Modbus connector", Figures):
# 10 pymodbus servers x 1,000 holding registers read as 500 float32 points each, every second,
# through fieldplane-connector-modbus (with the registry), through the same connector with one
# request per point (the baseline of the grouping), and through Node-RED 4.1 with
# node-red-contrib-modbus; requests per second on the wire, messages and values delivered
# (each value checked), CPU and RSS. Every option after BUILD_DIR goes to bench.mjs (see its
# header). Build BUILD_DIR with the release preset first; the npm packages of this folder are
# installed from the lockfile (npm ci) when missing. Everything started is stopped on exit.
set -eu

BUILD=${1:?usage: bench/modbus/run.sh BUILD_DIR [bench.mjs options]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)

for f in /usr/sbin/mosquitto mosquitto_sub node npm /usr/bin/python3; do
    command -v "$f" >/dev/null 2>&1 || { echo "missing $f (Debian packages mosquitto, mosquitto-clients, nodejs, npm, python3)" >&2; exit 2; }
done
/usr/bin/python3 -c 'import pymodbus, serial_asyncio' 2>/dev/null ||
    { echo "missing pymodbus (Debian packages python3-pymodbus, python3-serial-asyncio)" >&2; exit 2; }
[ -d "$HERE/node_modules/node-red-contrib-modbus" ] || (cd "$HERE" && npm ci --no-audit --no-fund)

echo "pymodbus: $(/usr/bin/python3 -c 'import pymodbus; print(pymodbus.__version__)'), libmodbus: $(pkg-config --modversion libmodbus 2>/dev/null || echo '?'), node-red: $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/node-red/package.json"), node-red-contrib-modbus: $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/node-red-contrib-modbus/package.json"), node: $(node --version)"
echo "mosquitto: $(/usr/sbin/mosquitto -h 2>&1 | head -n 1)"
exec node "$HERE/bench.mjs" --build "$BUILD" "$@"
