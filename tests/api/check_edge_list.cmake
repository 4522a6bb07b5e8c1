# cmake -DEXE=<api_edge> -DEXPECTED=<list> -P check_edge_list.cmake
# Fails when `api_edge --list` and the CMake list of registered tests differ,
# so that a cmocka test added to api_edge.c cannot go unregistered.
execute_process(COMMAND ${EXE} --list OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --list failed: ${rc}")
endif()
string(STRIP "${out}" out)
string(REPLACE "\n" ";" have "${out}")
list(SORT have)
set(want ${EXPECTED})
list(SORT want)
if(NOT have STREQUAL want)
  set(missing ${have})
  list(REMOVE_ITEM missing ${want})
  set(extra ${want})
  list(REMOVE_ITEM extra ${have})
  message(FATAL_ERROR "api_edge tests not registered in CMake: ${missing}; "
                      "registered but not in api_edge: ${extra}")
endif()
list(LENGTH have n)
message(STATUS "api_edge: all ${n} tests registered")
