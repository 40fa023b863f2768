#!/bin/sh
# Connectors, ours included, use only the SDK's public headers. Inside this tree the
# compiler cannot tell: fpcommon puts include/fieldplane/ and lib/common/ on every
# include path, so "fp_buf.h" or "fp_sha256.h" would build here and fail outside.
# This check reads the #include lines of connectors/ and examples/ instead. Allowed:
#   <fieldplane/NAME>   a header under include/fieldplane/ (what cmake --install installs)
#   "opcua/NAME"        the OPC UA library's public headers (lib/opcua/include/opcua/)
#   "NAME"              a connector's own header, somewhere under connectors/
#   <NAME>              a system or third-party header, unless NAME is one of ours under lib/
# Registered with ctest as sdk/public-includes (tests/CMakeLists.txt).
#
# Usage: check_includes.sh SOURCE_DIR
set -eu

src=${1:?usage: $0 SOURCE_DIR}
cd "$src"

bad=0
report()
{
    echo "$1: #include $2: $3" >&2
    bad=1
}

files=$(find connectors examples -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "FAIL: no sources under connectors/ or examples/" >&2; exit 1; }

# One line per include: the file, the delimiter and the name (`connectors/http/http.c "jsonsel.h`).
includes=$(for f in $files; do
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*\)[>"].*/\1/p' "$f" |
        sed "s|^|$f |"
done)

while read -r f inc; do
    name=${inc#?}
    case $inc in
    '<fieldplane/'*)
        [ -f "include/$name" ] || report "$f" "<$name>" "not a public header" ;;
    '"opcua/'*)
        [ -f "lib/opcua/include/$name" ] ||
            report "$f" "\"$name\"" "not a public header of the OPC UA library" ;;
    '"'*)
        case $name in
        */*) report "$f" "\"$name\"" "a path; name public headers as <fieldplane/...>" ;;
        *)
            [ -n "$(find connectors -name "$name" -print -quit)" ] ||
                report "$f" "\"$name\"" "not a file of the connectors; public headers are <fieldplane/...>"
            ;;
        esac
        ;;
    '<'*)
        if [ -n "$(find lib -path lib/opcua/include -prune -o -name "${name##*/}" -print -quit)" ]; then
            report "$f" "<$name>" "an internal header of lib/"
        fi
        ;;
    esac
done <<EOF
$includes
EOF

if [ "$bad" -ne 0 ]; then
    echo "FAIL: connectors and examples must use only public headers (docs/connector-sdk.md)" >&2
    exit 1
fi
echo "ok: $(echo "$files" | wc -l) files of connectors/ and examples/ include only public headers"
