# Runs PROGRAM with ARGS ('|'-separated) and fails unless it exits with EXPECTED and its
# standard error matches MATCH: ctest's checks look at one or the other, not both.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL EXPECTED)
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECTED}\n${out}${err}")
endif()
if(NOT err MATCHES "${MATCH}")
  message(FATAL_ERROR "standard error does not match '${MATCH}':\n${err}")
endif()
