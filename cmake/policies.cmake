# cmake/policies.cmake - the placement policies, read from
# include/glassheap/policies.h (the one place they are named).
#
# Sets, for every directory below the top level:
#   GH_POLICIES        the names, in the header's order (a CMake list)
#   GH_POLICY_NAMES    "first|next|..." as the header's GLASSHEAP_POLICY_NAMES
#   GH_POLICY_DEFAULT  GLASSHEAP_POLICY_DEFAULT
#   GH_POLICIES_FILE   <build>/policies.txt: one name a line, for scripts
# The header's joined forms (NAMES, LIST, COUNT, DEFAULT) are checked
# against its X(...) table here, so a policy added to the table and not to
# them is a configure error.

set(gh_policies_h ${PROJECT_SOURCE_DIR}/include/glassheap/policies.h)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${gh_policies_h})
file(READ ${gh_policies_h} gh_text)

function(gh_policies_define name out)
  if(NOT gh_text MATCHES "#define[ \t]+${name}[ \t]+([^\n]*)")
    message(FATAL_ERROR "${gh_policies_h}: no #define ${name}")
  endif()
  string(STRIP "${CMAKE_MATCH_1}" v)
  set(${out} "${v}" PARENT_SCOPE)
endfunction()

gh_policies_define("GLASSHEAP_POLICIES\\(X\\)" gh_table)
string(REGEX MATCHALL "X\\([a-z_0-9]+\\)" gh_entries "${gh_table}")
set(GH_POLICIES)
foreach(e IN LISTS gh_entries)
  string(REGEX REPLACE "X\\(([a-z_0-9]+)\\)" "\\1" e "${e}")
  list(APPEND GH_POLICIES ${e})
endforeach()
if(NOT GH_POLICIES)
  message(FATAL_ERROR "${gh_policies_h}: GLASSHEAP_POLICIES(X) names no policy")
endif()

list(LENGTH GH_POLICIES gh_count)
list(JOIN GH_POLICIES "|" gh_names)
list(JOIN GH_POLICIES ", " gh_list)
gh_policies_define(GLASSHEAP_POLICY_COUNT gh_h_count)
gh_policies_define(GLASSHEAP_POLICY_NAMES gh_h_names)
gh_policies_define(GLASSHEAP_POLICY_LIST gh_h_list)
gh_policies_define(GLASSHEAP_POLICY_DEFAULT gh_h_default)
function(gh_policies_agree what want have)
  if(NOT "${want}" STREQUAL "${have}")
    message(FATAL_ERROR "${gh_policies_h}: GLASSHEAP_POLICY_${what} is ${have}; "
      "the GLASSHEAP_POLICIES(X) table gives ${want}")
  endif()
endfunction()
gh_policies_agree(COUNT "${gh_count}" "${gh_h_count}")
gh_policies_agree(NAMES "\"${gh_names}\"" "${gh_h_names}")
gh_policies_agree(LIST "\"${gh_list}\"" "${gh_h_list}")
string(REGEX REPLACE "^\"(.*)\"$" "\\1" GH_POLICY_DEFAULT "${gh_h_default}")
if(NOT GH_POLICY_DEFAULT IN_LIST GH_POLICIES)
  message(FATAL_ERROR "${gh_policies_h}: GLASSHEAP_POLICY_DEFAULT '${GH_POLICY_DEFAULT}' "
    "is not in the GLASSHEAP_POLICIES(X) table")
endif()
set(GH_POLICY_NAMES "${gh_names}")

set(GH_POLICIES_FILE ${PROJECT_BINARY_DIR}/policies.txt)
list(JOIN GH_POLICIES "\n" gh_lines)
file(CONFIGURE OUTPUT ${GH_POLICIES_FILE} CONTENT "${gh_lines}\n")
message(STATUS "glassheap policies (include/glassheap/policies.h): ${GH_POLICIES}")
