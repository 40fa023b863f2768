#!/bin/sh
# bench/opcua/run.sh BUILD_DIR [ITEMS] [SECONDS]
#
# The OPC UA figures of docs/benchmarks.md, on this machine:
#  1. decode throughput of DataChangeNotifications (BUILD_DIR/bench/opcua_decode_bench);
#  2. the client (fieldplane-opcua subscribe) receiving ITEMS (default 10000) variables sampled
#     and published every 100 ms from the node-opcua test peer for SECONDS (default 30): CPU and
#     peak RSS of the client from /usr/bin/time -v, CPU and RSS of the peer from /proc, values
#     received per second.
# Build BUILD_DIR with the release preset first. Prints the machine, the load average before
# and after, and every figure. The peer listens on a loopback port it picks itself; everything
# started here is stopped on exit.
set -eu

BUILD=${1:?usage: bench/opcua/run.sh BUILD_DIR [ITEMS] [SECONDS]}
ITEMS=${2:-10000}
SECONDS_RUN=${3:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TOOL=$BUILD/lib/opcua/fieldplane-opcua
DECODE=$BUILD/bench/opcua_decode_bench
TMP=$(mktemp -d)
PEER_PID=

cleanup() {
    if [ -n "$PEER_PID" ] && kill -0 "$PEER_PID" 2>/dev/null; then
        kill "$PEER_PID" 2>/dev/null || true
        sleep 1
        kill -9 "$PEER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

for f in "$TOOL" "$DECODE"; do
    [ -x "$f" ] || { echo "missing $f: build $BUILD first" >&2; exit 2; }
done

CLK=$(getconf CLK_TCK)
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), RAM $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== decode: $DECODE 1000 2"
"$DECODE" 1000 2

# CPU seconds (user + system) of a process from /proc/PID/stat.
cpu_s() {
    awk -v clk="$CLK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / clk }' "/proc/$1/stat"
}
rss_mb() {
    awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"
}

echo
echo "== subscribe: $ITEMS items at 100 ms for $SECONDS_RUN s"
node "$SRC/tests/peers/opcua/server.js" --items "$ITEMS" --items-interval 100 \
    --security-policies None --security-modes None >"$TMP/peer.log" 2>&1 &
PEER_PID=$!
i=0
until grep -q LISTENING "$TMP/peer.log"; do
    i=$((i + 1))
    if [ $i -gt 240 ] || ! kill -0 "$PEER_PID" 2>/dev/null; then
        echo "the peer did not start:" >&2
        cat "$TMP/peer.log" >&2
        exit 1
    fi
    sleep 0.5
done
URL=$(grep -o 'opc\.tcp://[^ ]*' "$TMP/peer.log" | head -n 1)
seq 0 $((ITEMS - 1)) | sed 's/^/ns=1;s=Load./' >"$TMP/ids"
PEER_CPU0=$(cpu_s "$PEER_PID")
# The node ids go on the command line (10,000 ids are about 170 KB, well under ARG_MAX).
# shellcheck disable=SC2046
/usr/bin/time -v -o "$TMP/time" "$TOOL" subscribe "$URL" $(cat "$TMP/ids") \
    --interval 100 --sampling 100 --queue-size 10 --duration $((SECONDS_RUN * 1000)) \
    --stats >"$TMP/out" 2>"$TMP/err" &
TOOL_PID=$!
# The peer's peak RSS while the client is connected, sampled every second.
PEER_RSS=0
while kill -0 "$TOOL_PID" 2>/dev/null; do
    r=$(rss_mb "$PEER_PID")
    [ "$r" -gt "$PEER_RSS" ] && PEER_RSS=$r
    sleep 1
done
wait "$TOOL_PID" || { echo "the client failed:" >&2; cat "$TMP/err" >&2; exit 1; }
PEER_CPU1=$(cpu_s "$PEER_PID")

LINES=$(wc -l <"$TMP/out")
WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$TMP/time")
USER=$(awk -F': ' '/User time/ { print $2 }' "$TMP/time")
SYS=$(awk -F': ' '/System time/ { print $2 }' "$TMP/time")
MAXRSS=$(awk -F': ' '/Maximum resident/ { printf "%.1f", $2 / 1024 }' "$TMP/time")
grep '^stats:' "$TMP/err" || true
awk -v lines="$LINES" -v wall="$WALL" -v user="$USER" -v sys="$SYS" -v rss="$MAXRSS" \
    -v pc0="$PEER_CPU0" -v pc1="$PEER_CPU1" -v prss="$PEER_RSS" -v dur="$SECONDS_RUN" 'BEGIN {
    cpu = user + sys
    printf "client: %d values in %.1f s wall (%.0f values/s over the subscription), CPU %.2f s (user %.2f, sys %.2f) = %.1f %% of a core, %.2f us per value, max RSS %s MB\n",
        lines, wall, lines / dur, cpu, user, sys, 100 * cpu / wall, lines ? 1e6 * cpu / lines : 0, rss
    printf "peer: CPU %.2f s during the run = %.0f %% of a core, peak RSS %d MB\n",
        pc1 - pc0, 100 * (pc1 - pc0) / wall, prss
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
