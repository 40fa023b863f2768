#!/bin/sh
# Install, run, upgrade, remove and purge the packages (ctest package/install), without
# touching this machine: dpkg installs into a root of its own (dpkg --root, with an empty
# dpkg database made here) and runs the maintainer scripts outside a chroot
# (--force-script-chrootless, which the scripts support by prefixing every path with
# $DPKG_ROOT). Dependencies are not installed into that root (--force-depends): the programs
# run on this machine's libraries, which are the ones the packages depend on.
#
#   1. the previous version (tests/package/build.sh) installs: the user fieldplane, the data
#      directory, the database with the first admin token (root only), a token per connector,
#      the units enabled;
#   2. the installed programs run: mosquitto takes the package's drop-in; the registry starts
#      as its unit would (ExecStart= with /etc/fieldplane/registry.conf, as the user
#      fieldplane, on a loopback port chosen here), answers /healthz and takes a namespace, a
#      device and an asset; each connector's token is accepted; the HTTP connector, started as
#      fieldplane-connector@http.service would, polls the asset's device and its message
#      reaches the broker; the SDK package builds the example connector with pkg-config;
#   3. the current version installs over it with an edited conffile; the postinst migrates
#      the database; the registry still has the device and the asset, the tokens and the
#      connector's queue are kept, so is the edit; a database the postinst cannot migrate
#      (one from a newer version) fails the installation and is left as it was;
#   4. remove keeps the data and the configuration; purge deletes them.
#
# Needs root, as dpkg and the maintainer scripts change owners. Usage: install.sh WORK
set -eu
[ $# -eq 1 ] || { echo "usage: $0 WORK" >&2; exit 2; }
WORK=$1
. "$(dirname "$0")/lib/common.sh"
need_tools dpkg dpkg-deb setpriv curl pkg-config cc node mosquitto_pub mosquitto_sub sqlite3
[ -x /usr/sbin/mosquitto ] || fail "/usr/sbin/mosquitto not found (scripts/bootstrap installs it)"
[ "$(id -u)" = 0 ] || fail "needs root: dpkg --root runs the maintainer scripts, which chown"

# What the maintainer scripts would change on this machine if they missed $DPKG_ROOT; compared
# at the end.
host_state()
{
    cat /etc/passwd /etc/group
    ls -la /etc/systemd/system /etc/systemd/system/multi-user.target.wants 2>/dev/null
    ls -d /etc/fieldplane /var/lib/fieldplane /etc/mosquitto/conf.d/fieldplane.conf 2>/dev/null
}
host_before=$(host_state | sha256sum)

R=$WORK/install/root
fresh_dir "$WORK/install"
fresh_dir "$R"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
pid=""
mqtt_pid=""
conn_pid=""
trap 'for p in $pid $mqtt_pid $conn_pid; do kill "$p" 2>/dev/null || true; done' EXIT

dpkg_root()
{
    dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null "$@"
}

# Install one version: fieldplane first, then the rest, in the order apt configures them
# (--force-depends would otherwise let dpkg configure a connector before its dependency).
install_version()
{
    set -- $(debs "$1")
    first=""
    rest=""
    for deb in "$@"; do
        case "${deb##*/}" in
        fieldplane_*) first=$deb ;;
        *) rest="$rest $deb" ;;
        esac
    done
    [ -n "$first" ] || fail "no fieldplane package among $*"
    dpkg_root -i "$first" && dpkg_root -i $rest
}

installed()
{
    dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' 2>/dev/null
}

owner()
{
    stat -c '%u:%g %a' "$1"
}

# The command line of a unit's ExecStart= as systemd makes it: %i is the instance, ${NAME}
# one argument, $NAME split on white space (none when empty), with the variables of this
# shell (the caller reads the unit's EnvironmentFile= first). Paths the unit names itself
# are moved into the root. Leaves the words, quoted for eval, in $cmd.
unit_cmd()
{
    line=$(sed -n 's/^ExecStart=//p' "$R/usr/lib/systemd/system/$1" | sed "s/%i/$2/g")
    [ -n "$line" ] || fail "$1 has no ExecStart="
    cmd=""
    for a in $line; do
        case "$a" in
        '${'*'}')
            name=${a#??}
            name=${name%?}
            eval "a=\${$name-}"
            cmd="$cmd '$a'"
            ;;
        '$'*)
            eval "words=\${${a#?}-}"
            for w in $words; do cmd="$cmd '$w'"; done
            ;;
        *'$'*) fail "$1: ExecStart= word $a is more than this test expands" ;;
        /usr/* | /var/*) cmd="$cmd '$R$a'" ;;
        *) cmd="$cmd '$a'" ;;
        esac
    done
}

# Start the registry the way fieldplane-registry.service does: its ExecStart= with the
# variables of /etc/fieldplane/registry.conf, as the user fieldplane; only the listen address
# (a free loopback port), the data directory (in the root) and the broker (the test's) differ.
start_registry()
{
    rm -f "$data/registry.url"
    set -a
    . "$R/etc/fieldplane/registry.conf"
    set +a
    FIELDPLANE_LISTEN=127.0.0.1:0
    FIELDPLANE_DATA=$data
    FIELDPLANE_BROKER=mqtt://127.0.0.1:$mqtt_port
    unit_cmd fieldplane-registry.service ""
    eval "set -- $cmd"
    setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@" >"$WORK/install/registry.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        [ -s "$data/registry.url" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/install/registry.log" >&2; fail "the registry exited"; }
        sleep 0.1
    done
    [ -s "$data/registry.url" ] || fail "the registry did not start within 10 s"
    url=$(cat "$data/registry.url")
    curl -fsS "$url/healthz" | grep -q '"status":"ok"' || fail "$url/healthz does not answer ok"
    echo "ok: the registry runs as fieldplane at $url and answers /healthz"
}

# mosquitto with the package's drop-in as its whole configuration, on a free port instead of
# 1883 (which this machine may use), as the user fieldplane (mosquitto keeps the user it is
# started as when that is not root).
start_mosquitto()
{
    mqtt_port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
    drop_in=$R/etc/mosquitto/conf.d/fieldplane.conf
    grep -q '^listener 1883 127.0.0.1$' "$drop_in" || fail "$drop_in: no listener 1883 on loopback"
    sed "s/^listener 1883 /listener $mqtt_port /" "$drop_in" >"$WORK/install/mosquitto.conf"
    setpriv --reuid="$uid" --regid="$gid" --clear-groups /usr/sbin/mosquitto \
        -c "$WORK/install/mosquitto.conf" >"$WORK/install/mosquitto.log" 2>&1 &
    mqtt_pid=$!
    for _ in $(seq 50); do
        mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t probe -m x 2>/dev/null && break
        kill -0 "$mqtt_pid" 2>/dev/null ||
            { cat "$WORK/install/mosquitto.log" >&2; fail "mosquitto refuses the drop-in"; }
        sleep 0.1
    done
    mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t probe -m x ||
        fail "mosquitto with the drop-in takes no anonymous client on loopback"
    echo "ok: mosquitto runs with the package's drop-in"
}

stop_registry()
{
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=""
    [ "$rc" = 0 ] || { cat "$WORK/install/registry.log" >&2; fail "the registry exited $rc on SIGTERM"; }
}

api()
{
    curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"
}

# --- 1. install the previous version ----------------------------------------------------------
install_version previous >"$WORK/install/dpkg.log" 2>&1 ||
    { cat "$WORK/install/dpkg.log" >&2; fail "dpkg -i of the previous version failed"; }
installed
data=$R/var/lib/fieldplane
uid=$(awk -F: '$1 == "fieldplane" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "fieldplane" { print $3 }' "$R/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || fail "the postinst made no user fieldplane in $R/etc/passwd"
[ "$(owner "$data")" = "$uid:$gid 700" ] || fail "$data is $(owner "$data"), not $uid:$gid 700"
[ -f "$data/registry.db" ] || fail "the postinst made no database"
[ "$(owner "$data/admin.token")" = "0:0 600" ] ||
    fail "admin.token is $(owner "$data/admin.token"), not root's alone (0:0 600)"
[ -L "$R/etc/systemd/system/multi-user.target.wants/fieldplane-registry.service" ] ||
    fail "fieldplane-registry.service is not enabled"
connectors=""
for exe in "$R"/usr/bin/fieldplane-connector-*; do
    name=${exe##*/fieldplane-connector-}
    connectors="$connectors $name"
    tok=$data/connectors/$name.token
    [ "$(owner "$tok")" = "$uid:$gid 600" ] || fail "$tok is $(owner "$tok" 2>&1), not $uid:$gid 600"
    [ -L "$R/etc/systemd/system/multi-user.target.wants/fieldplane-connector@$name.service" ] ||
        fail "fieldplane-connector@$name.service is not enabled"
done
[ -n "$connectors" ] || fail "no connector was installed"
echo "ok: installed: user $uid:$gid, data directory, database, tokens, units enabled"

# --- 2. the programs run ----------------------------------------------------------------------
"$R/usr/bin/fieldplane" --version | grep -q '^fieldplane ' || fail "fieldplane --version"
for name in $connectors; do
    "$R/usr/bin/fieldplane-connector-$name" --version >/dev/null ||
        fail "fieldplane-connector-$name --version"
done
admin=$(cat "$data/admin.token")
start_mosquitto
start_registry
# The device is the registry itself: its /healthz is JSON the HTTP connector can poll.
api -X PUT "$url/api/v1/namespaces/plant-a" -d '{"properties":{}}' >/dev/null ||
    fail "PUT namespace"
api -X PUT "$url/api/v1/namespaces/plant-a/devices/plc-1" -d '{"properties":{"endpoints":{"inbound":{"web":{"endpointType":"Microsoft.Http","address":"'"$url"'/"}}}}}' >/dev/null ||
    fail "PUT device"
api -X PUT "$url/api/v1/namespaces/plant-a/assets/oven-1" -d '{"properties":{"deviceRef":{"deviceName":"plc-1","endpointName":"web"},"datasets":[{"name":"health","dataSource":"/healthz","datasetConfiguration":"{\"samplingIntervalInMilliseconds\": 200}","dataPoints":[{"name":"state","dataSource":"$.status"}],"destinations":[{"target":"Mqtt","configuration":{"topic":"plant-a/oven-1/health","qos":"Qos1"}}]}]}}' >/dev/null ||
    fail "PUT asset"
for name in $connectors; do
    curl -fsS -H "Authorization: Bearer $(cat "$data/connectors/$name.token")" \
        "$url/api/v1/namespaces/plant-a/devices" >/dev/null ||
        fail "the registry refuses connector $name's token"
done
echo "ok: a namespace, a device and an asset stored; every connector's token accepted"

# The HTTP connector as fieldplane-connector@http.service starts it (the template's
# ExecStart= with /etc/fieldplane/connector.conf): its data reach the broker.
case " $connectors " in
*" http "*) ;;
*) fail "no package fieldplane-connector-http to run the connector test with" ;;
esac
set -a
. "$R/etc/fieldplane/connector.conf"
set +a
FIELDPLANE_REGISTRY=$url
FIELDPLANE_BROKER=mqtt://127.0.0.1:$mqtt_port
unit_cmd fieldplane-connector@.service http
eval "set -- $cmd"
setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@" >"$WORK/install/connector.log" 2>&1 &
conn_pid=$!
msg=$(mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -t 'plant-a/#' -C 1 -W 20 2>&1 || true)
echo "$msg" | grep -q '"state":"ok"' ||
    { cat "$WORK/install/connector.log" >&2; fail "no message from the connector on the broker (got: $msg)"; }
kill -TERM "$conn_pid"
rc=0
wait "$conn_pid" || rc=$?
conn_pid=""
[ "$rc" = 0 ] || { cat "$WORK/install/connector.log" >&2; fail "the connector exited $rc on SIGTERM"; }
echo "ok: fieldplane-connector-http, started as its unit does, publishes: $msg"
stop_registry

# The SDK package: the example connector builds with pkg-config alone and runs.
pc=$(dirname "$(find "$R/usr/lib" -name fieldplane-connector.pc)")
[ -d "$pc" ] || fail "libfieldplane-connector-dev has no fieldplane-connector.pc"
# shellcheck disable=SC2046
cc -o "$WORK/install/counter" "$R/usr/share/doc/libfieldplane-connector-dev/counter.c" \
    $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs fieldplane-connector) ||
    fail "the example connector does not build against libfieldplane-connector-dev"
"$WORK/install/counter" --version >/dev/null || fail "the example connector does not run"
echo "ok: the example connector builds against the installed SDK"

# --- 3. upgrade to the current version --------------------------------------------------------
echo "# edited by the administrator" >>"$R/etc/fieldplane/registry.conf"
tokens_before=$(cat "$data"/connectors/*.token | sha256sum)
install_version current >"$WORK/install/dpkg.log" 2>&1 ||
    { cat "$WORK/install/dpkg.log" >&2; fail "the upgrade to the current version failed"; }
grep -q "the database in $data is up to date" "$WORK/install/dpkg.log" ||
    fail "the upgrade's postinst did not migrate the database (fieldplane registry --migrate)"
installed
version=$(dpkg-deb -f $(debs current | cut -d' ' -f1) Version)
installed | grep -v " $version ii" && fail "a package is not at $version, installed (ii)"
grep -q '^# edited by the administrator' "$R/etc/fieldplane/registry.conf" ||
    fail "the upgrade lost the edit of the conffile registry.conf"
[ "$(cat "$data"/connectors/*.token | sha256sum)" = "$tokens_before" ] ||
    fail "the upgrade changed the connectors' tokens"
[ "$(owner "$data/admin.token")" = "0:0 600" ] || fail "admin.token changed owner on upgrade"
[ -d "$data/connectors/http/queue" ] || fail "the upgrade lost the HTTP connector's queue"
start_registry
api "$url/api/v1/namespaces/plant-a/devices/plc-1" | grep -q '"Microsoft.Http"' ||
    fail "the device is gone after the upgrade"
api "$url/api/v1/namespaces/plant-a/assets/oven-1" | grep -q '"dataSource":"/healthz"' ||
    fail "the asset is gone after the upgrade"
stop_registry
kill "$mqtt_pid"
wait "$mqtt_pid" 2>/dev/null || true
mqtt_pid=""
echo "ok: upgraded from the previous version; the device, the asset and the tokens are kept"

# A database the installed fieldplane cannot migrate (here: one from a newer version, as after
# a downgrade) fails the postinst, so that dpkg reports it, and is left as it was.
schema=$(sqlite3 "$data/registry.db" "SELECT value FROM meta WHERE key = 'schema_version'")
sqlite3 "$data/registry.db" "UPDATE meta SET value = 99 WHERE key = 'schema_version'"
dpkg_root -i "$(ls "$WORK"/debs/current/fieldplane_*.deb)" >"$WORK/install/dpkg.log" 2>&1 &&
    fail "the postinst accepted a database of schema version 99"
grep -q "newer than this fieldplane" "$WORK/install/dpkg.log" ||
    { cat "$WORK/install/dpkg.log" >&2; fail "the failed postinst does not say why"; }
[ "$(sqlite3 "$data/registry.db" "SELECT value FROM meta WHERE key = 'schema_version'")" = 99 ] ||
    fail "the failed migration changed the database"
sqlite3 "$data/registry.db" "UPDATE meta SET value = $schema WHERE key = 'schema_version'"
dpkg_root --configure fieldplane >"$WORK/install/dpkg.log" 2>&1 ||
    { cat "$WORK/install/dpkg.log" >&2; fail "dpkg --configure after the repair failed"; }
echo "ok: a database the postinst cannot migrate fails the installation and is left as it was"

# --- 4. remove, then purge --------------------------------------------------------------------
pkgs=$(installed | cut -d' ' -f1)
# shellcheck disable=SC2086
dpkg_root -r $pkgs || fail "dpkg -r failed"
[ ! -e "$R/usr/bin/fieldplane" ] || fail "dpkg -r left /usr/bin/fieldplane"
[ -f "$data/registry.db" ] && [ -f "$data/admin.token" ] || fail "dpkg -r deleted the data"
[ -f "$R/etc/fieldplane/registry.conf" ] || fail "dpkg -r deleted the configuration"
for name in $connectors; do
    [ ! -e "$R/etc/systemd/system/multi-user.target.wants/fieldplane-connector@$name.service" ] ||
        fail "dpkg -r left fieldplane-connector@$name.service enabled"
done
echo "ok: removed; data and configuration kept"
# shellcheck disable=SC2086
dpkg_root -P $pkgs || fail "dpkg -P failed"
[ ! -e "$data" ] || fail "dpkg -P left $data"
[ ! -e "$R/etc/fieldplane" ] || fail "dpkg -P left /etc/fieldplane"
[ ! -e "$R/etc/mosquitto/conf.d/fieldplane.conf" ] || fail "dpkg -P left mosquitto's drop-in"
[ -z "$(find "$R/etc/systemd" -name 'fieldplane*' 2>/dev/null)" ] ||
    fail "dpkg -P left units enabled: $(find "$R/etc/systemd" -name 'fieldplane*')"
[ -z "$(installed | grep -v ' un$' || true)" ] || fail "dpkg -P left packages: $(installed)"
echo "ok: purged; nothing of fieldplane left in the root"
[ "$(host_state | sha256sum)" = "$host_before" ] ||
    fail "the maintainer scripts changed this machine (users, units or /etc/fieldplane)"
echo "ok: this machine's users, units and /etc are as they were"
