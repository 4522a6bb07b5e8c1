# install_consumer.cmake - run with cmake -P (see CMakeLists.txt beside it).
#
# Inputs (-D): GH_BUILD_DIR, GH_CONFIG, GH_WORK_DIR, GH_CONSUMER_SOURCE,
# GH_SOURCE_INCLUDE (the source tree's include/), GH_GENERATED_INCLUDE (the
# build's generated include/: glassheap/version.h), GH_VERSION, GH_LIBDIR,
# GH_INCLUDEDIR, GH_GENERATOR, GH_MAKE_PROGRAM, GH_C_COMPILER.
#
# Steps, each fatal on failure:
#   1. cmake --install GH_BUILD_DIR --prefix GH_WORK_DIR/prefix
#   2. every piece that cmake/install.cmake promises exists, every header
#      of the source and the generated include/ trees among them, and the
#      installed version.h defines GLASSHEAP_VERSION as GH_VERSION
#   3. consumer built with find_package(glassheap <version> REQUIRED CONFIG),
#      run with LD_LIBRARY_PATH=<prefix>/<libdir>
#   4. consumer built with pkg-config only (PKG_CONFIG_PATH, no
#      CMAKE_PREFIX_PATH), run the same way
# A run must print "glassheap_version=<version>" and a "loaded=" line whose
# path is inside the prefix (not some other libglassheap.so on the system).

cmake_minimum_required(VERSION 3.25)

foreach(v GH_BUILD_DIR GH_WORK_DIR GH_CONSUMER_SOURCE GH_SOURCE_INCLUDE GH_GENERATED_INCLUDE
          GH_VERSION GH_LIBDIR
          GH_INCLUDEDIR GH_GENERATOR GH_C_COMPILER)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "install_consumer: ${v} not given")
  endif()
endforeach()

set(prefix ${GH_WORK_DIR}/prefix)
if(IS_ABSOLUTE "${GH_LIBDIR}")
  message(FATAL_ERROR "install_consumer: an absolute CMAKE_INSTALL_LIBDIR "
    "(${GH_LIBDIR}) cannot be redirected with --prefix; configure with a relative one")
endif()
set(libdir ${prefix}/${GH_LIBDIR})
set(includedir ${prefix}/${GH_INCLUDEDIR})

file(REMOVE_RECURSE ${GH_WORK_DIR})
file(MAKE_DIRECTORY ${GH_WORK_DIR})

function(run_step what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message("${out}")
    message("${err}")
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc}): ${ARGN}")
  endif()
  set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

# 1. Install.
set(config_args)
if(GH_CONFIG)
  set(config_args --config ${GH_CONFIG})
endif()
run_step("cmake --install"
  ${CMAKE_COMMAND} --install ${GH_BUILD_DIR} --prefix ${prefix} ${config_args})

# 2. Every piece.
set(pieces
  ${libdir}/libglassheap.so
  ${includedir}/glassheap.h
  ${libdir}/pkgconfig/glassheap.pc
  ${libdir}/cmake/glassheap/glassheapConfig.cmake
  ${libdir}/cmake/glassheap/glassheapConfigVersion.cmake
  ${libdir}/cmake/glassheap/glassheapTargets.cmake)
foreach(p IN LISTS pieces)
  if(NOT EXISTS ${p})
    message(FATAL_ERROR "install_consumer: not installed: ${p}")
  endif()
endforeach()
file(GLOB gh_targets_config ${libdir}/cmake/glassheap/glassheapTargets-*.cmake)
if(NOT gh_targets_config)
  message(FATAL_ERROR "install_consumer: no per-configuration "
    "glassheapTargets-<config>.cmake in ${libdir}/cmake/glassheap")
endif()
# Every header of the source and the generated include/ trees is installed.
set(all_headers)
foreach(tree ${GH_SOURCE_INCLUDE} ${GH_GENERATED_INCLUDE})
  file(GLOB_RECURSE headers RELATIVE ${tree} ${tree}/*.h)
  if(NOT headers)
    message(FATAL_ERROR "install_consumer: found no headers in ${tree}")
  endif()
  list(APPEND all_headers ${headers})
endforeach()
foreach(h IN LISTS all_headers)
  if(NOT EXISTS ${includedir}/${h})
    message(FATAL_ERROR "install_consumer: header not installed: ${includedir}/${h}")
  endif()
endforeach()
file(STRINGS ${includedir}/glassheap/version.h version_line
  REGEX "^#define GLASSHEAP_VERSION ")
if(NOT version_line STREQUAL "#define GLASSHEAP_VERSION \"${GH_VERSION}\"")
  message(FATAL_ERROR "install_consumer: installed glassheap/version.h has "
    "'${version_line}', not GLASSHEAP_VERSION \"${GH_VERSION}\"")
endif()
message(STATUS "install_consumer: installed into ${prefix}: ${all_headers}, "
  "libglassheap.so, glassheap.pc, CMake package")

# 3 and 4. Build and run the consumer.
function(build_and_run mode)
  set(bdir ${GH_WORK_DIR}/consumer-${mode})
  set(args -S ${GH_CONSUMER_SOURCE} -B ${bdir} -G ${GH_GENERATOR}
    -DCMAKE_C_COMPILER=${GH_C_COMPILER}
    -DCMAKE_BUILD_TYPE=Release
    -DGH_EXPECT_VERSION=${GH_VERSION}
    -DGH_EXPECT_PREFIX=${prefix})
  if(GH_MAKE_PROGRAM)
    list(APPEND args -DCMAKE_MAKE_PROGRAM=${GH_MAKE_PROGRAM})
  endif()
  if(mode STREQUAL "cmake")
    list(APPEND args -DGH_USE_PKGCONFIG=OFF -DCMAKE_PREFIX_PATH=${prefix})
    set(env_args)
  else()
    # Only the .pc file may lead the consumer to glassheap.
    list(APPEND args -DGH_USE_PKGCONFIG=ON)
    set(env_args PKG_CONFIG_PATH=${libdir}/pkgconfig)
  endif()
  run_step("configure consumer (${mode})"
    ${CMAKE_COMMAND} -E env ${env_args} ${CMAKE_COMMAND} ${args})
  run_step("build consumer (${mode})" ${CMAKE_COMMAND} --build ${bdir} --config Release)
  run_step("run consumer (${mode})"
    ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir}
      ${bdir}/glassheap_consumer)
  set(out "${step_output}")
  message(STATUS "consumer (${mode}) printed:\n${out}")
  string(FIND "${out}" "glassheap_version=${GH_VERSION}\n" at)
  if(at LESS 0)
    message(FATAL_ERROR "install_consumer: consumer (${mode}) did not print "
      "glassheap_version=${GH_VERSION}")
  endif()
  string(FIND "${out}" "loaded=${libdir}/libglassheap.so" at)
  if(at LESS 0)
    message(FATAL_ERROR "install_consumer: consumer (${mode}) did not load "
      "${libdir}/libglassheap.so")
  endif()
  string(FIND "${out}" "malloc=ok" at)
  if(at LESS 0)
    message(FATAL_ERROR "install_consumer: consumer (${mode}): malloc check failed")
  endif()
endfunction()

build_and_run(cmake)
build_and_run(pkgconfig)

message("install_consumer: all checks passed")
