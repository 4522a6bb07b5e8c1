# cmake/install.cmake - what `cmake --install` puts where.
#
# Included by the top-level CMakeLists.txt (after alloc/ defines the
# `glassheap` target).  Installs, under CMAKE_INSTALL_PREFIX:
#
#   <libdir>/libglassheap.so                     the preloadable library
#   <includedir>/glassheap.h                     public extensions
#   <includedir>/glassheap/*.h                   shm.h, trace.h, ... and the
#                                                generated version.h
#   <libdir>/pkgconfig/glassheap.pc              pkg-config: -lglassheap
#   <libdir>/cmake/glassheap/glassheapConfig.cmake, ...ConfigVersion.cmake,
#   <libdir>/cmake/glassheap/glassheapTargets*.cmake
#                                                find_package(glassheap)
#                                                -> glassheap::glassheap
#   <datadir>/doc/glassheap/{README.md,LICENSE}
#
# Both package files are relocatable: the CMake one finds itself through
# PACKAGE_PREFIX_DIR, the pkg-config one through ${pcfiledir}, so
# `cmake --install build --prefix /anywhere` gives a working tree.
# tests/install/ checks every piece above.

include(CMakePackageConfigHelpers)

set(GH_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/glassheap)
set(GH_PKGCONFIG_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The library.  It links nothing but libc and pthread, so no dependency
# has to be found again by a consumer.
install(TARGETS glassheap EXPORT glassheapTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# Headers: glassheap.h and the glassheap/ folder (shm.h, the ABI between
# the library and the inspector, ...), then the generated ones
# (glassheap/version.h).  A directory install picks up whatever headers are
# there at install time, without a re-configure.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ ${GH_GENERATED_INCLUDE}/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
  FILES_MATCHING PATTERN "*.h")

# CMake package.
install(EXPORT glassheapTargets
  NAMESPACE glassheap::
  DESTINATION ${GH_CMAKE_INSTALL_DIR} COMPONENT development)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/glassheapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/glassheapConfig.cmake
  INSTALL_DESTINATION ${GH_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# 0.x: a minor release may change the API, so only the same major.minor
# satisfies a request (find_package(glassheap 0.1) accepts 0.1.z, z >= 0).
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/glassheapConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/glassheapConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/glassheapConfigVersion.cmake
  DESTINATION ${GH_CMAKE_INSTALL_DIR} COMPONENT development)

# pkg-config file.  prefix is ${pcfiledir} plus the way back up from
# <libdir>/pkgconfig; an absolute libdir or includedir is written as is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(GH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH GH_PC_UP "/gh-root/${GH_PKGCONFIG_INSTALL_DIR}" "/gh-root")
  string(REGEX REPLACE "/+$" "" GH_PC_UP "${GH_PC_UP}")   # "../.." not "../../"
  set(GH_PC_PREFIX "\${pcfiledir}/${GH_PC_UP}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(GH_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(GH_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/glassheap.pc.in
  ${PROJECT_BINARY_DIR}/glassheap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/glassheap.pc
  DESTINATION ${GH_PKGCONFIG_INSTALL_DIR} COMPONENT development)

# Documentation.
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# The `glassheap` command installs itself from
# tools/glassheap/CMakeLists.txt with install(TARGETS ... RUNTIME DESTINATION
# ${CMAKE_INSTALL_BINDIR}); nothing to do here for it.
