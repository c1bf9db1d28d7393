# ctest -P script: builds the probe target PROBE in BUILD_DIR and checks the outcome.
# EXPECT=fail: the build must fail because the header named by HEADER is not found (not for any
# other reason); EXPECT=pass: the build must succeed.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${PROBE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROBE} should compile but did not:\n${out}${err}")
  endif()
  return()
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "${PROBE} compiled, but its include of ${HEADER} goes the wrong way "
                      "through the layers and must fail")
endif()
string(FIND "${out}${err}" "${HEADER}" at)
if(at EQUAL -1 OR NOT "${out}${err}" MATCHES "No such file|file not found")
  message(FATAL_ERROR "${PROBE} failed, but not because ${HEADER} was not found:\n${out}${err}")
endif()
message(STATUS "${PROBE}: ${HEADER} is not visible, as it should be")
