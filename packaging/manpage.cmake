# Make a manual page from a program's own --help (cmake -P), so that the page and the program
# never disagree: the help text is the one source, as the configuration rows are for the
# connectors' docs. Run at build time by packaging/CMakeLists.txt for each packaged program.
#
#   cmake -DEXE=<program> -DNAME=<name> -DSUMMARY=<one line> -DVERSION=<v> -DOUT=<page.1.gz>
#         -P packaging/manpage.cmake
#
# The page is NAME, DESCRIPTION (the help text verbatim, in a no-fill block) and SEE ALSO (the
# guide in /usr/share/doc/fieldplane); gzip -9n keeps it reproducible.
foreach(var EXE NAME SUMMARY VERSION OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "manpage.cmake: -D${var}=... is missing")
  endif()
endforeach()

execute_process(COMMAND ${EXE} --help OUTPUT_VARIABLE help ERROR_VARIABLE help_err
                RESULT_VARIABLE rc)
# Some programs (fieldplane-opcua) print their help on stderr.
if(rc EQUAL 0 AND help STREQUAL "")
  set(help "${help_err}")
endif()
if(NOT rc EQUAL 0 OR help STREQUAL "")
  message(FATAL_ERROR "manpage.cmake: ${EXE} --help failed (${rc}): ${help_err}")
endif()

# roff: a backslash is \e; a line that starts with . or ' would be a request, \& stops that.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
string(TOUPPER ${NAME} title)
string(REPLACE "-" "\\-" name_roff ${NAME})
file(WRITE ${OUT}.tmp
     ".TH ${title} 1 \"\" \"fieldplane ${VERSION}\" \"Fieldplane\"\n"
     ".SH NAME\n${name_roff} \\- ${SUMMARY}\n"
     ".SH DESCRIPTION\n.nf\n${help}.fi\n"
     ".SH SEE ALSO\n"
     "/usr/share/doc/fieldplane/install.md: the services, their configuration in\n"
     "/etc/fieldplane, upgrades, backups and removal.\n")
execute_process(COMMAND gzip -9n -c ${OUT}.tmp OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
file(REMOVE ${OUT}.tmp)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: gzip failed (${rc})")
endif()
