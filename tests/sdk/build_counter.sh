#!/bin/sh
# The connector SDK as a connector outside this tree sees it: install the build tree into a
# staging directory, then compile examples/connector-counter/counter.c with only
#   cc counter.c $(pkg-config --cflags --libs fieldplane-connector)
# against that staging directory (PKG_CONFIG_PATH, no path into the source tree), and run
# the program. Each installed header must also compile on its own, which shows that no
# public header includes one that is not installed. Registered with ctest as sdk/install
# (tests/CMakeLists.txt), which passes the compiler of the build and, in the sanitizer
# preset, the sanitizer flags the archive was built with.
#
# Usage: build_counter.sh CMAKE BUILD_DIR SOURCE_DIR WORK_DIR CC [CC_FLAG...]
# A missing tool (cmake, pkg-config, the compiler) is a failure, never a skip.
set -eu

if [ $# -lt 5 ]; then
    echo "usage: $0 CMAKE BUILD_DIR SOURCE_DIR WORK_DIR CC [CC_FLAG...]" >&2
    exit 2
fi
cmake=$1
build=$2
src=$3
work=$4
cc=$5
shift 5

fail()
{
    echo "FAIL: $*" >&2
    exit 1
}

for tool in "$cmake" pkg-config "$cc"; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (needed to check the installed SDK)"
done

stage=$work/stage
rm -rf "$work"
mkdir -p "$stage" "$work/counter"

echo "== cmake --install $build --prefix $stage"
"$cmake" --install "$build" --prefix "$stage" >"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "cmake --install failed"; }

for f in include/fieldplane/connector.h include/fieldplane/fp_buf.h \
    lib/libfieldplane-connector.a lib/pkgconfig/fieldplane-connector.pc; do
    [ -f "$stage/$f" ] || fail "$f is not installed"
done
[ ! -e "$stage/include/fieldplane/fp_sha256.h" ] || fail "the internal fp_sha256.h is installed"

# Only the staged .pc file; the system's directories still serve jansson, libmosquitto and
# openssl, which it requires.
PKG_CONFIG_PATH=$stage/lib/pkgconfig
export PKG_CONFIG_PATH
echo "== pkg-config --cflags --libs fieldplane-connector"
flags=$(pkg-config --cflags --libs fieldplane-connector) || fail "pkg-config fieldplane-connector failed"
echo "$flags"
cflags=$(pkg-config --cflags fieldplane-connector)
for flag in $cflags; do
    case $flag in
    -I"$stage"/*) ;;
    -I"$src"/*) fail "the Cflags point into the source tree: $flag" ;;
    esac
done
case " $cflags " in
*" -I$stage/"*) ;;
*) fail "the Cflags do not name the staged include directory: $cflags" ;;
esac

echo "== each installed header on its own"
for h in "$stage"/include/fieldplane/*.h; do
    name=fieldplane/$(basename "$h")
    # shellcheck disable=SC2086 # the flags are words
    printf '#include <%s>\n' "$name" |
        "$cc" "$@" -Wall -Wextra -Werror -fsyntax-only -x c - $cflags ||
        fail "$name does not compile on its own"
done

echo "== cc counter.c \$(pkg-config --cflags --libs fieldplane-connector)"
# A copy, so that nothing beside the example in the source tree can be found either.
cp "$src/examples/connector-counter/counter.c" "$work/counter/"
cd "$work/counter"
# shellcheck disable=SC2086 # the flags are words
"$cc" "$@" counter.c $flags -o fieldplane-connector-counter ||
    fail "counter.c does not build against the installed SDK"

echo "== fieldplane-connector-counter --help, --help-config"
./fieldplane-connector-counter --help >help.txt || fail "--help exited with $?"
grep -q '^Usage: fieldplane-connector-counter' help.txt || fail "--help: no usage line"
grep -q 'Example\.Counter' help.txt || fail "--help does not name the endpoint type"
./fieldplane-connector-counter --help-config >help-config.txt || fail "--help-config exited with $?"
cat help-config.txt
for key in intervalMilliseconds step; do
    grep -Eq "^dataset +$key " help-config.txt || fail "--help-config does not list $key"
done
echo "ok: a connector builds and runs from the installed SDK"
