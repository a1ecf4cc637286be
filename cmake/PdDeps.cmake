# Third-party dependencies for both configurations.
#   native : Debian packages (libssl-dev, libboost-dev, libspdlog-dev, libfmt-dev, libgtest-dev, libbenchmark-dev)
#   windows: Debian's headers (Boost.Asio, spdlog, fmt: header-only) + a static mingw OpenSSL built
#            from Debian's source package by tools/setup/openssl-mingw.sh, + GoogleTest from /usr/src.
# Provides: OpenSSL::Crypto, pd_asio (Boost.Asio + its system libs), pd_spdlog (header-only spdlog
# and fmt), Threads::Threads, GTest::gtest(_main), and natively benchmark::benchmark.

# pd_setup_dir(VAR script doc): runs tools/setup/<script> (which builds or fetches a dependency
# once per machine, keyed by the newest Debian version, and prints its directory last) and caches
# that directory. It runs at every configure (a fraction of a second once built), so a newer Debian
# version (e.g. a security update) is picked up by the next configure; a value given by the user
# (-DVAR=...) is kept as is.
function(pd_setup_dir var script doc)
  if(${var} AND NOT "${${var}}" STREQUAL "${PD_AUTO_${var}}" AND NOT "${${var}}" MATCHES "/peerdist-deps/")
    return()
  endif()
  execute_process(COMMAND bash "${PROJECT_SOURCE_DIR}/tools/setup/${script}"
                  OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tools/setup/${script} failed (exit ${rc}); see its message above")
  endif()
  string(REGEX REPLACE ".*\n" "" out "${out}")
  if(NOT "${out}" STREQUAL "${${var}}")
    message(STATUS "${doc}: ${out}")
  endif()
  set(${var} "${out}" CACHE PATH "${doc}" FORCE)
  set(PD_AUTO_${var} "${out}" CACHE INTERNAL "")
endfunction()

# pd_debian_version(VAR dir prefix): the Debian version a set-up script built DIR from (its file
# debian-version, else the directory name after PREFIX), or "".
function(pd_debian_version var dir prefix)
  set(v "")
  if(EXISTS "${dir}/debian-version")
    file(STRINGS "${dir}/debian-version" v LIMIT_COUNT 1)
  else()
    get_filename_component(name "${dir}" NAME)
    if(name MATCHES "^${prefix}(.+)$")
      set(v "${CMAKE_MATCH_1}")
    endif()
  endif()
  set(${var} "${v}" PARENT_SCOPE)
endfunction()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

if(PD_WINDOWS)
  # Header-only libraries come from the host's /usr/include, but /usr/include itself must never be
  # on the mingw include path (glibc headers would shadow the mingw CRT). Expose only these dirs.
  set(PD_SYSDEPS_DIR "${CMAKE_BINARY_DIR}/sysdeps/include")
  file(MAKE_DIRECTORY "${PD_SYSDEPS_DIR}")
  foreach(dir boost spdlog fmt)
    if(NOT EXISTS "/usr/include/${dir}")
      message(FATAL_ERROR "/usr/include/${dir} missing: run tools/setup/deps.sh")
    endif()
    file(CREATE_LINK "/usr/include/${dir}" "${PD_SYSDEPS_DIR}/${dir}" SYMBOLIC)
  endforeach()

  pd_setup_dir(OPENSSL_ROOT_DIR openssl-mingw.sh "static mingw OpenSSL prefix")
  # The Debian version of the bundled OpenSSL (logged by the DLLs, checked by dll_openssl_current).
  pd_debian_version(PD_OPENSSL_DEBIAN_VERSION "${OPENSSL_ROOT_DIR}" "openssl-mingw64-")
  add_library(OpenSSL::Crypto STATIC IMPORTED GLOBAL)
  set_target_properties(OpenSSL::Crypto PROPERTIES
    IMPORTED_LOCATION "${OPENSSL_ROOT_DIR}/lib/libcrypto.a"
    INTERFACE_INCLUDE_DIRECTORIES "${OPENSSL_ROOT_DIR}/include"
    INTERFACE_LINK_LIBRARIES "ws2_32;crypt32;advapi32;user32")
  add_library(OpenSSL::SSL STATIC IMPORTED GLOBAL)
  set_target_properties(OpenSSL::SSL PROPERTIES
    IMPORTED_LOCATION "${OPENSSL_ROOT_DIR}/lib/libssl.a"
    INTERFACE_LINK_LIBRARIES OpenSSL::Crypto)

  add_library(pd_sysdeps INTERFACE)
  target_include_directories(pd_sysdeps SYSTEM INTERFACE "${PD_SYSDEPS_DIR}")

  add_library(pd_asio INTERFACE)
  target_link_libraries(pd_asio INTERFACE pd_sysdeps ws2_32 mswsock)
  target_compile_definitions(pd_asio INTERFACE BOOST_ASIO_NO_DEPRECATED)

  add_library(pd_spdlog INTERFACE)
  target_link_libraries(pd_spdlog INTERFACE pd_sysdeps)
  target_compile_definitions(pd_spdlog INTERFACE FMT_HEADER_ONLY SPDLOG_FMT_EXTERNAL)

  # GoogleTest 1.12 from Debian's googletest source package builds with mingw as is.
  set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)  # defines GTest::gtest(_main)
else()
  find_package(OpenSSL 3 REQUIRED)
  # Natively OpenSSL is the host's: name the libssl-dev whose headers the build uses.
  execute_process(COMMAND dpkg-query -W "-f=\${Version}" libssl-dev
                  OUTPUT_VARIABLE PD_OPENSSL_DEBIAN_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    set(PD_OPENSSL_DEBIAN_VERSION "")
  endif()
  find_package(GTest REQUIRED)
  find_package(benchmark REQUIRED)
  find_package(fmt REQUIRED)
  find_package(spdlog REQUIRED)
  find_package(Boost 1.74 REQUIRED)

  add_library(pd_asio INTERFACE)
  target_link_libraries(pd_asio INTERFACE Boost::headers Threads::Threads)
  target_compile_definitions(pd_asio INTERFACE BOOST_ASIO_NO_DEPRECATED)

  # Same mode as on Windows (header-only spdlog over fmt) so both builds log identically.
  add_library(pd_spdlog INTERFACE)
  target_link_libraries(pd_spdlog INTERFACE fmt::fmt)
  target_compile_definitions(pd_spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
  target_include_directories(pd_spdlog SYSTEM INTERFACE $<TARGET_PROPERTY:spdlog::spdlog_header_only,INTERFACE_INCLUDE_DIRECTORIES>)
endif()

# SQLite (the cache index, cache/): the amalgamation generated from Debian's sqlite3 source package
# by tools/setup/sqlite-src.sh, compiled here for both configurations with the same options.
pd_setup_dir(PD_SQLITE_DIR sqlite-src.sh "directory of the SQLite amalgamation")
pd_debian_version(PD_SQLITE_DEBIAN_VERSION "${PD_SQLITE_DIR}" "sqlite-")
add_library(pd_sqlite STATIC "${PD_SQLITE_DIR}/sqlite3.c")
target_include_directories(pd_sqlite SYSTEM PUBLIC "${PD_SQLITE_DIR}")
set_target_properties(pd_sqlite PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 11)
target_compile_options(pd_sqlite PRIVATE -w)
target_compile_definitions(pd_sqlite PRIVATE
  SQLITE_THREADSAFE=1 SQLITE_DQS=0 SQLITE_OMIT_LOAD_EXTENSION SQLITE_OMIT_DEPRECATED
  SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 SQLITE_DEFAULT_FOREIGN_KEYS=1 SQLITE_USE_ALLOCA
  SQLITE_MAX_MMAP_SIZE=0x7fff0000)
target_link_libraries(pd_sqlite PUBLIC Threads::Threads)
