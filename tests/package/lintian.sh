#!/bin/sh
# Debian's package checker on the packages of this version (ctest package/lintian): any error
# or warning fails the test (the issue asks for no errors; the packages have no warnings
# either, and a new one is cheaper to fix when it appears than later).
#
# Usage: lintian.sh WORK
set -eu
[ $# -eq 1 ] || { echo "usage: $0 WORK" >&2; exit 2; }
WORK=$1
. "$(dirname "$0")/lib/common.sh"
need_tools lintian

# shellcheck disable=SC2046
lintian --fail-on error,warning --allow-root $(debs current) ||
    fail "lintian reports errors or warnings (above)"
echo "ok: lintian reports no errors and no warnings"
