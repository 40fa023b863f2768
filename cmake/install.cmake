# Install rules: `cmake --install build/<preset> --prefix DIR` puts in place
#
#   DIR/include/fieldplane/*.h                 the connector SDK's public headers
#   DIR/lib/libfieldplane-connector.a          the SDK runtime with the common library and
#                                              the model's rules (lib/model)
#   DIR/lib/pkgconfig/fieldplane-connector.pc  from cmake/fieldplane-connector.pc.in
#   DIR/bin/fieldplane                         the CLI (registry, up, client commands)
#   DIR/bin/fieldplane-connector-<name>        each connector under connectors/
#
# so that a connector outside this tree builds with
#   cc counter.c $(pkg-config --cflags --libs fieldplane-connector)
# (docs/connector-sdk.md; tests/sdk/ checks it against a staged install). Components, which
# are also the Debian packages (packaging/CMakeLists.txt): "sdk" for the first three
# (libfieldplane-connector-dev), "fieldplane" for the fieldplane command, "connector_<name>"
# for each connector (fieldplane-connector-<name>; the OPC UA one also has fieldplane-opcua).
include(GNUInstallDirs)

if(TARGET fpconnector)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/fieldplane
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk FILES_MATCHING PATTERN "*.h")
  install(TARGETS fpconnector ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)

  # The .pc file finds its prefix from its own directory, so the path from
  # <libdir>/pkgconfig back to the prefix ("../.." for lib/pkgconfig) is written into it.
  file(RELATIVE_PATH FP_PC_PREFIX_FROM_PCDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
  string(REGEX REPLACE "/$" "" FP_PC_PREFIX_FROM_PCDIR ${FP_PC_PREFIX_FROM_PCDIR})
  configure_file(${CMAKE_SOURCE_DIR}/cmake/fieldplane-connector.pc.in
                 ${CMAKE_BINARY_DIR}/fieldplane-connector.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/fieldplane-connector.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
endif()

install(TARGETS fieldplane RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT fieldplane)
# One folder per connector, each building fieldplane-connector-<folder> (connectors/CMakeLists.txt).
file(GLOB FP_INSTALL_CONNECTOR_DIRS LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/connectors/*)
foreach(dir ${FP_INSTALL_CONNECTOR_DIRS})
  get_filename_component(name ${dir} NAME)
  if(TARGET fieldplane-connector-${name})
    install(TARGETS fieldplane-connector-${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
            COMPONENT connector_${name})
  endif()
endforeach()
# The OPC UA client tool goes with the OPC UA connector, whose users debug servers with it.
if(TARGET fieldplane-opcua AND TARGET fieldplane-connector-opcua)
  install(TARGETS fieldplane-opcua RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          COMPONENT connector_opcua)
endif()
