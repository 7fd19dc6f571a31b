# Debian packages (cpack -G DEB in a build folder) and the pkg-config file.
#   libescalon-dev   headers, the static library, CMake config, pkg-config file
#   escalon          the `escalon` command
#   python3-escalon  the Python package for Debian's python3
# Runtime dependencies of the command and the Python module come from dpkg-shlibdeps (dpkg-dev);
# the -dev package names the -dev packages a static link needs.

file(RELATIVE_PATH ESCALON_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" ESCALON_PC_TO_PREFIX "${ESCALON_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/escalon.pc.in ${PROJECT_BINARY_DIR}/escalon.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/escalon.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

set(CPACK_PACKAGE_NAME escalon)
set(CPACK_PACKAGE_VENDOR "Escalon developers")
set(CPACK_PACKAGE_CONTACT "Escalon developers <escalon@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Workflow and rules engine for contact-center hand-overs")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev cli)
if(ESCALON_BUILD_PYTHON)
  list(APPEND CPACK_COMPONENTS_ALL python)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # name_version_arch.deb
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# The packages install under /usr, where Debian's python3 finds lib/python3/dist-packages.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libescalon-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libfmt-dev (>= 9), libyaml-cpp-dev (>= 0.7), libhowardhinnant-date-dev, libsqlite3-dev, libssl-dev, libcurl4-openssl-dev | libcurl-dev, libpqxx-dev (>= 6.4), libpq-dev, libsodium-dev (>= 1.0.18), pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "Escalon: headers, static library, CMake package (find_package(escalon)) and pkg-config file\n Escalon runs contact-center processes written as YAML flows: steps, guards, deadlines,\n escalation ladders and SLAs on business calendars, with an audit journal and durable cases.")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME escalon)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "tzdata")
set(CPACK_COMPONENT_CLI_DESCRIPTION
  "Escalon command: validate, run, simulate and report on contact-center flows\n The escalon command checks YAML flows, runs cases on an SQLite or PostgreSQL store,\n simulates staffing and prints KPI reports.")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-escalon)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "python3 (>= ${ESCALON_PYTHON_VERSION}), python3 (<< ${ESCALON_PYTHON_NEXT}), tzdata")
set(CPACK_COMPONENT_PYTHON_DESCRIPTION
  "Escalon for Python 3: the engine as the `escalon` package, with type stubs\n Runs contact-center flows (steps, deadlines, escalations, SLAs) from Python scripts.")

include(CPack)
