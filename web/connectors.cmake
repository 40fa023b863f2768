# connectors.cmake - write /ui/connectors.json: every connector's configuration rows.
#
#   cmake "-DCONNECTORS=<name>=<executable>;..." -DOUT=<connectors.json> -P connectors.cmake
#
# Runs each executable with `--help-config --json` (lib/connector/rt_main.c) and writes
# {"connectors": [<each export>, ...]}. The web UI builds its configuration forms from this
# file instead of a list of its own, so a key the UI offers is a key a connector reads.
# Anything that goes wrong (a connector that fails, prints something that is not its JSON
# document, or names itself differently) stops the build: a UI without a connector's keys
# would quietly offer less than the connectors read.

if(NOT CONNECTORS OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DCONNECTORS=<name>=<exe>;... -DOUT=<file> -P connectors.cmake")
endif()

set(joined "")
foreach(entry ${CONNECTORS})
  string(FIND "${entry}" "=" eq)
  if(eq LESS 1)
    message(FATAL_ERROR "connectors.cmake: \"${entry}\" is not <name>=<executable>")
  endif()
  string(SUBSTRING "${entry}" 0 ${eq} name)
  math(EXPR from "${eq} + 1")
  string(SUBSTRING "${entry}" ${from} -1 exe)
  execute_process(
    COMMAND "${exe}" --help-config --json
    OUTPUT_VARIABLE doc
    ERROR_VARIABLE err
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${exe} --help-config --json failed (${rc}): ${err}")
  endif()
  string(JSON got ERROR_VARIABLE json_err GET "${doc}" connector)
  if(json_err)
    message(FATAL_ERROR "${exe} --help-config --json: not the JSON document expected: "
                        "${json_err}\n${doc}")
  endif()
  if(NOT got STREQUAL name)
    message(FATAL_ERROR "${exe} --help-config --json names the connector \"${got}\", "
                        "expected \"${name}\"")
  endif()
  # Joined as text, not kept in a CMake list: a ';' in a description would split it.
  string(STRIP "${doc}" doc)
  if(NOT joined STREQUAL "")
    string(APPEND joined ",\n")
  endif()
  string(APPEND joined "${doc}")
endforeach()

set(body "{\n\"connectors\": [\n${joined}\n]\n}\n")
string(JSON ignored ERROR_VARIABLE json_err TYPE "${body}" connectors)
if(json_err)
  message(FATAL_ERROR "connectors.cmake: the joined document is not JSON: ${json_err}")
endif()
file(WRITE "${OUT}" "${body}")
