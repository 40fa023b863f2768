# Helpers of the package tests (tests/package/*.sh), sourced by each. The debs they test are
# made once by tests/package/build.sh (the ctest fixture package/build) into WORK/debs/current
# and WORK/debs/previous; each test then works in its own folder below WORK.
#
# A missing tool or package is a failure that names it, never a skip.

fail()
{
    echo "FAIL: $*" >&2
    exit 1
}

need_tools()
{
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (scripts/bootstrap --tests installs it)"
    done
}

# The debs of one version (current or previous), as a list of paths; fails if there are none.
debs()
{
    set -- "$WORK/debs/$1"/*.deb
    [ -f "$1" ] || fail "no .deb files in $(dirname "$1"): run the test package/build first"
    echo "$@"
}

# A fresh folder that processes of other users (the service's user) can enter.
fresh_dir()
{
    rm -rf "$1"
    mkdir -p "$1"
    chmod 0755 "$1"
}
