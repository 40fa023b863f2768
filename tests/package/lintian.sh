#!/bin/sh
# Debian's package checker on the packages of this version (ctest package/lintian): any
# error fails the test; warnings are printed (the binaries have no manual pages yet).
#
# Usage: lintian.sh WORK
set -eu
[ $# -eq 1 ] || { echo "usage: $0 WORK" >&2; exit 2; }
WORK=$1
. "$(dirname "$0")/lib/common.sh"
need_tools lintian

# shellcheck disable=SC2046
lintian --fail-on error --allow-root $(debs current) || fail "lintian reports errors (above)"
echo "ok: lintian reports no errors"
