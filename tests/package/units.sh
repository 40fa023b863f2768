#!/bin/sh
# The systemd units of the package (ctest package/units): `systemd-analyze verify` on each, in
# a root made of the packages' files and this machine's own units (the targets they name),
# so that it also checks that every ExecStart= executable is there; the template is verified
# through an instance of each connector package. Then `systemd-analyze security` in offline
# mode holds the hardening: an exposure level above 2.0 (of 10) fails.
#
# Usage: units.sh WORK
set -eu
[ $# -eq 1 ] || { echo "usage: $0 WORK" >&2; exit 2; }
WORK=$1
. "$(dirname "$0")/lib/common.sh"
need_tools systemd-analyze dpkg-deb

root=$WORK/units/root
fresh_dir "$root"
for deb in $(debs current); do
    dpkg-deb -x "$deb" "$root"
done
units=$root/usr/lib/systemd/system
for dir in /lib/systemd/system /usr/lib/systemd/system; do
    [ -d "$dir" ] && cp -an "$dir/." "$units/"
done
[ -f "$units/multi-user.target" ] || fail "this machine has no systemd units to verify against"

check="/usr/lib/systemd/system/fieldplane-registry.service"
for exe in "$root"/usr/bin/fieldplane-connector-*; do
    name=${exe##*/fieldplane-connector-}
    ln -sf fieldplane-connector@.service "$units/fieldplane-connector@$name.service"
    check="$check /usr/lib/systemd/system/fieldplane-connector@$name.service"
done
# shellcheck disable=SC2086
systemd-analyze verify --root="$root" $check || fail "systemd-analyze verify rejects a unit"
echo "ok: systemd-analyze verify accepts $check"

for unit in $check; do
    unit=${unit##*/}
    systemd-analyze security --offline=yes --root="$root" --threshold=20 --no-pager "$unit" |
        tail -n 1
    systemd-analyze security --offline=yes --root="$root" --threshold=20 "$unit" >/dev/null ||
        fail "$unit: exposure level above 2.0 (systemd-analyze security --offline=yes)"
done
echo "ok: hardening of every unit at exposure 2.0 or below"
