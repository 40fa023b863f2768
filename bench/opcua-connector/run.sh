#!/bin/sh
# bench/opcua-connector/run.sh BUILD_DIR [--only ours|nodered|diy|scale,...] [--duration S] [...]
#
# The OPC UA connector figures of docs/benchmarks.md (issue "The OPC UA connector", Figures):
# the reference workload of 125 assets x 50 tags at 2 Hz from the node-opcua test peer, carried
# to mosquitto by fieldplane-connector-opcua (with the registry), by Node-RED 4.1 with
# node-red-contrib-opcua, and by diy.mjs (node-opcua -> mqtt.js); CPU and RSS of each, values
# delivered, values lost in a 10 s broker outage; then the connector alone against several
# peers at higher rates. Prints a table per part and a summary (see README.md). Every option
# after BUILD_DIR goes to bench.mjs (`node bench.mjs --help`). Build BUILD_DIR with the release
# preset first; the npm packages of this folder and of tests/peers/opcua are installed from
# their lockfiles (npm ci) when missing. Everything started here is stopped on exit.
set -eu

BUILD=${1:?usage: bench/opcua-connector/run.sh BUILD_DIR [bench.mjs options]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

for f in /usr/sbin/mosquitto node npm; do
    command -v "$f" >/dev/null 2>&1 || { echo "missing $f (Debian packages mosquitto, nodejs, npm)" >&2; exit 2; }
done
[ -d "$HERE/node_modules/node-red" ] || (cd "$HERE" && npm ci --no-audit --no-fund)
[ -d "$SRC/tests/peers/opcua/node_modules/node-opcua" ] || (cd "$SRC/tests/peers/opcua" && npm ci --no-audit --no-fund)

echo "node-opcua (diy, peer): $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/node-opcua/package.json"), node-red: $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/node-red/package.json"), node-red-contrib-opcua: $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/node-red-contrib-opcua/package.json"), mqtt.js: $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/mqtt/package.json")"
echo "mosquitto: $(/usr/sbin/mosquitto -h 2>&1 | head -n 1)"
exec node "$HERE/bench.mjs" --build "$BUILD" "$@"
