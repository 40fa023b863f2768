#!/bin/sh
# The package test's fixture (ctest package/build): make the Debian packages twice from this
# tree with packaging/build.sh, which `make package` runs: at the project's version into
# WORK/debs/current, and at a lower version (VERSION~previous, which dpkg orders before
# VERSION) into WORK/debs/previous, for package/install to upgrade from. The build is the
# package preset's (build/package); `make test` builds it before ctest runs, so here it is
# normally only the packaging.
#
# Usage: build.sh SOURCE_DIR WORK
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SOURCE_DIR WORK" >&2; exit 2; }
src=$1
WORK=$2
. "$(dirname "$0")/lib/common.sh"
need_tools cmake cpack dpkg-deb

version=$(sed -n 's/^project(fieldplane VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "cannot read the project's version from $src/CMakeLists.txt"

rm -rf "$WORK/debs"
"$src/packaging/build.sh" --out "$WORK/debs/current" ||
    fail "packaging/build.sh failed"
"$src/packaging/build.sh" --version "$version~previous" --out "$WORK/debs/previous" ||
    fail "packaging/build.sh --version $version~previous failed"

# Every package the tree promises, at the version asked for: fieldplane, the SDK, and one per
# connector executable the build made.
expect="fieldplane libfieldplane-connector-dev"
for exe in "$src"/build/package/connectors/*/fieldplane-connector-*; do
    [ -x "$exe" ] && expect="$expect $(basename "$exe")"
done
for kind in current previous; do
    want=$version
    [ "$kind" = previous ] && want="$version~previous"
    for pkg in $expect; do
        deb=$(ls "$WORK/debs/$kind/${pkg}_"*.deb 2>/dev/null || true)
        [ -n "$deb" ] || fail "$kind: no package $pkg"
        got=$(dpkg-deb -f "$deb" Version)
        [ "$got" = "$want" ] || fail "$kind: $pkg has version $got, not $want"
    done
    echo "$kind: $(cd "$WORK/debs/$kind" && ls -- *.deb | tr "\n" " ")"
done

# The changelog's latest entry is the version packaged.
top=$(sed -n '1s/^fieldplane (\([^)]*\)).*/\1/p' "$src/packaging/debian/changelog")
[ "$top" = "$version" ] ||
    fail "packaging/debian/changelog starts with $top, the project is $version: add an entry"
echo "ok: packages built"
