#!/bin/sh
# run.sh - the registry benchmark: start a registry on a fresh data directory
# and a loopback port chosen at run time, load it with 100,000 assets over one
# keep-alive connection, time GETs and list pages, read its memory and database
# size, time cold starts on that data, and measure the raw SQLite commit rate in
# the same run. Every figure is printed as "key value" and collected in
# BUILD_DIR/bench/registry-results.txt; docs/benchmarks.md records them.
#
# Usage: bench/registry/run.sh BUILD_DIR      (make bench: build/release)
# Environment: ASSETS (100000), GETS (20000), LISTS (2000), COLD_RUNS (5),
#              KEEP_DATA=1 keeps the data directory for a look afterwards.
set -eu

BUILD=${1:?usage: bench/registry/run.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
BIN=$BUILD/cli/fieldplane
LOAD=$BUILD/bench/bench_registry_load
COLD=$BUILD/bench/bench_cold_start
PEER=$BUILD/bench/bench_sqlite_rate
ASSETS=${ASSETS:-100000}
GETS=${GETS:-20000}
LISTS=${LISTS:-2000}
COLD_RUNS=${COLD_RUNS:-5}
KEEP_DATA=${KEEP_DATA:-0}

for f in "$BIN" "$LOAD" "$COLD" "$PEER"; do
    [ -x "$f" ] || { echo "run.sh: $f is missing; build with the release preset first" >&2; exit 1; }
done

WORK=$BUILD/bench/registry-run
DATA=$WORK/data
RESULTS=$BUILD/bench/registry-results.txt
PID=   # the registry under load
STEP=  # the benchmark program running now

cleanup() {
    for p in $STEP $PID; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [ "$KEEP_DATA" != 1 ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$WORK"
mkdir -p "$WORK"
: >"$RESULTS"

say() { echo "$*" | tee -a "$RESULTS"; }
# Run one benchmark program in the background (so a signal reaches the traps at
# once), stop on its failure, and add its "key value" lines to the results.
step() {
    "$@" >"$WORK/step.out" &
    STEP=$!
    if ! wait "$STEP"; then
        STEP=
        echo "run.sh: $1 failed" >&2
        exit 1
    fi
    STEP=
    tee -a "$RESULTS" <"$WORK/step.out"
}
size_of() { if [ -f "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

say "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "nproc $(nproc)"
say "cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
say "mem_total_kb $(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)"
say "kernel $(uname -r)"
say "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
say "load_before $(cut -d ' ' -f 1-3 /proc/loadavg)"

# The raw SQLite peer first, while the machine is as quiet as it will be.
echo "== raw SQLite: one-row WAL transactions" >&2
step "$PEER" --db "$WORK/peer.db" --rows "$ASSETS" --shape row
rm -f "$WORK/peer.db" "$WORK/peer.db-wal" "$WORK/peer.db-shm"
echo "== raw SQLite: the registry's two-row create transaction" >&2
step "$PEER" --db "$WORK/peer.db" --rows "$ASSETS" --shape registry
rm -f "$WORK/peer.db" "$WORK/peer.db-wal" "$WORK/peer.db-shm"

echo "== registry on a fresh data directory" >&2
"$BIN" registry --data "$DATA" --listen 127.0.0.1:0 >"$WORK/registry.out" 2>"$WORK/registry.log" &
PID=$!
i=0
while [ ! -s "$DATA/registry.url" ]; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$PID" 2>/dev/null; then
        echo "run.sh: the registry did not start:" >&2
        cat "$WORK/registry.log" >&2
        exit 1
    fi
    sleep 0.05
done
URL=$(cat "$DATA/registry.url")
TOKEN=$(cat "$DATA/admin.token")
say "registry_url $URL"

step "$LOAD" --url "$URL" --token "$TOKEN" --pid "$PID" --assets "$ASSETS" --gets "$GETS" \
    --lists "$LISTS"

say "db_bytes $(size_of "$DATA/registry.db")"
say "wal_bytes $(size_of "$DATA/registry.db-wal")"
say "db_plus_wal_bytes $(($(size_of "$DATA/registry.db") + $(size_of "$DATA/registry.db-wal")))"
say "load_after_load $(cut -d ' ' -f 1-3 /proc/loadavg)"

kill -TERM "$PID"
wait "$PID" || true
PID=
say "db_bytes_after_stop $(size_of "$DATA/registry.db")"
say "wal_bytes_after_stop $(size_of "$DATA/registry.db-wal")"

echo "== cold start with $ASSETS assets" >&2
step "$COLD" --bin "$BIN" --data "$DATA" --runs "$COLD_RUNS" --log "$WORK/cold.log"
say "load_after $(cut -d ' ' -f 1-3 /proc/loadavg)"

# The targets of the registry issue, judged on this run's figures.
get() { sed -n "s/^$1 //p" "$RESULTS" | head -n 1; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
{
    echo "== targets"
    echo "creates/s from one keep-alive client >= 10000: $(get creates_per_s) ($(verdict "$(get creates_per_s) >= 10000"))"
    echo "list page of 100, p99 < 10 ms: $(get list_all_p99_ms) ms ($(verdict "$(get list_all_p99_ms) < 10"))"
    echo "RSS < 64 MB (VmHWM): $(get hwm_end_kb) kB ($(verdict "$(get hwm_end_kb) < 65536"))"
    echo "cold start < 1 s (max of runs): $(get cold_start_max_ms) ms ($(verdict "$(get cold_start_max_ms) < 1000"))"
    echo "raw SQLite one-row commits/s: $(get sqlite_row_commits_per_s)"
} | tee -a "$RESULTS" >&2
echo "results in $RESULTS" >&2
