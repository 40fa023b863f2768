# How many tests the suite has, by kind, and the check that none went missing.
#
# A test file is a promise that its test runs. The suite must not shrink without anyone
# noticing, as it did when a missing cmocka, node or connector binary made tests vanish or
# skip: so the tests registered of each kind are counted against the test files of that kind,
# and fewer tests than files is an error. The same check runs twice:
#   - at configure time (tests/CMakeLists.txt includes this file and calls fp_suite_check with
#     what it registered), which also prints the line to read, e.g.
#       fieldplane: 35 unit, 26 system, 20 fuzz-replay, 2 sdk, 4 package tests
#   - at test time as the ctest test suite/count (cmake -P on this file), which reads the list
#     ctest itself knows (ctest -N), so a build tree that was not reconfigured after a test
#     file was added fails too.
#
# Script mode: cmake -DSOURCE_DIR=<checkout> -DBUILD_DIR=<build tree> -DCTEST=<ctest>
#              -DFUZZ=<ON|OFF> -P tests/count.cmake

# The kinds of test in this build and the number of test files of each, as <prefix>_KINDS
# (the kinds in print order) and <prefix>_<kind> (the count). The fuzz preset runs only the
# harnesses; the other presets replay their corpus and run everything else.
function(fp_suite_files source_dir fuzz prefix)
  set(tests ${source_dir}/tests)
  if(fuzz)
    set(kinds fuzz)
    file(GLOB files ${tests}/fuzz/fuzz_*.c)
    list(LENGTH files count)
    set(${prefix}_fuzz ${count} PARENT_SCOPE)
  else()
    set(kinds unit system fuzz-replay sdk package)
    set(glob_unit ${tests}/unit/test_*.c)
    set(glob_system ${tests}/system/*.test.mjs)
    set(glob_fuzz-replay ${tests}/fuzz/fuzz_*.c)
    set(glob_sdk ${tests}/sdk/*.sh)
    set(glob_package ${tests}/package/*.sh)
    foreach(kind ${kinds})
      file(GLOB files ${glob_${kind}})
      list(LENGTH files count)
      set(${prefix}_${kind} ${count} PARENT_SCOPE)
    endforeach()
  endif()
  set(${prefix}_KINDS ${kinds} PARENT_SCOPE)
endfunction()

# Compare the registered counts <registered>_<kind> with the files of the checkout; print the
# summary line, and stop with an error naming each kind that has fewer tests than files.
function(fp_suite_check source_dir fuzz registered)
  fp_suite_files(${source_dir} "${fuzz}" files)
  set(parts "")
  set(short "")
  foreach(kind ${files_KINDS})
    set(count ${${registered}_${kind}})
    if(NOT count)
      set(count 0)
    endif()
    list(APPEND parts "${count} ${kind}")
    if(count LESS files_${kind})
      list(APPEND short "${kind}: ${count} registered, ${files_${kind}} test files")
    endif()
  endforeach()
  list(JOIN parts ", " summary)
  # NOTICE goes to stderr, so the line shows even where the configure output is hidden
  # (make test sends it to /dev/null).
  message(NOTICE "fieldplane: ${summary} tests")
  if(short)
    list(JOIN short "; " why)
    message(FATAL_ERROR "the test suite is smaller than its files (${why}). Every test file "
                        "must become a test; a build tree configured before a test file was "
                        "added must be built (and so configured) again.")
  endif()
endfunction()

if(DEFINED CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  foreach(var SOURCE_DIR BUILD_DIR CTEST)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "count.cmake: -D${var}=... is missing")
    endif()
  endforeach()
  execute_process(COMMAND ${CTEST} -N WORKING_DIRECTORY ${BUILD_DIR}
                  OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "count.cmake: ctest -N in ${BUILD_DIR} failed (${rc})")
  endif()
  # Lines such as "  Test  #12: unit/test_cli_yaml": count the names by their kind.
  string(REGEX MATCHALL "Test +#[0-9]+: [^/\n]+/" names "${listing}")
  foreach(name ${names})
    string(REGEX REPLACE "^Test +#[0-9]+: ([^/]+)/$" "\\1" kind "${name}")
    if(NOT DEFINED seen_${kind})
      set(seen_${kind} 0)
    endif()
    math(EXPR seen_${kind} "${seen_${kind}} + 1")
  endforeach()
  fp_suite_check(${SOURCE_DIR} "${FUZZ}" seen)
endif()
