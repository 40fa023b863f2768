#!/bin/sh
# Build the Debian packages (`make package`): configure the package preset with the compiler
# and linker flags Debian builds its own packages with (dpkg-buildflags, all hardening on:
# fortified functions, stack protector, PIE, full RELRO), build it, and make the .deb files
# with cpack (packaging/CMakeLists.txt says what goes where).
#
# Usage: packaging/build.sh [--version VERSION] [--out DIR] [--build-only]
#   --version     package version instead of the project's (the package test makes an older
#                 one from the same tree to upgrade from)
#   --out         where the .deb files go (default build/package/packages)
#   --build-only  configure and build, make no packages (`make test` before its tests)
# Prints the path of each .deb made, one per line, on stdout.
set -eu
cd "$(dirname "$0")/.."

version=""
build_only=0
out="$PWD/build/package/packages"
while [ $# -gt 0 ]; do
    case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "packaging/build.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

for tool in cmake cpack dpkg-buildflags dpkg-shlibdeps fakeroot; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "packaging/build.sh: $tool not found (scripts/bootstrap installs it)" >&2
        exit 1
    }
done

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
jobs=${JOBS:-$(nproc)}

# Quiet unless a step fails: then its whole output says why.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet()
{
    "$@" >"$log" 2>&1 || {
        cat "$log" >&2
        echo "packaging/build.sh: failed: $*" >&2
        exit 1
    }
}

quiet cmake --preset package -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags"
quiet cmake --build --preset package -j "$jobs"
[ "$build_only" = 1 ] && exit 0

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.deb
# fakeroot: the files in the packages belong to root whoever builds them.
cd build/package
quiet fakeroot cpack -G DEB -B "$out" ${version:+-D CPACK_PACKAGE_VERSION="$version"}
ls "$out"/*.deb
