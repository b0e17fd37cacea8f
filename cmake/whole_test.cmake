# isobench_add_whole_test(NAME <name> COMMAND <command...> [PROPERTIES <prop value>...]):
# one CTest test for a whole binary or script whose cases cannot run in processes of
# their own (a VM boot shared by every check, a reliability script). It runs through
# run_whole_test.sh: a failing case fails the test whatever else skipped; the test is
# "Skipped" only when every case skipped (exit 77, SKIP_RETURN_CODE), never by matching
# a SKIPPED line in the output.
set(ISOBENCH_WHOLE_TEST_RUNNER "${CMAKE_CURRENT_LIST_DIR}/run_whole_test.sh")
function(isobench_add_whole_test)
  cmake_parse_arguments(ARG "" "NAME" "COMMAND;PROPERTIES" ${ARGN})
  add_test(NAME ${ARG_NAME} COMMAND bash ${ISOBENCH_WHOLE_TEST_RUNNER} ${ARG_COMMAND})
  set_tests_properties(${ARG_NAME} PROPERTIES SKIP_RETURN_CODE 77 ${ARG_PROPERTIES})
endfunction()
