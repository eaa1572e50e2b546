# Runs one consumer test (cmake -P): MODE is find_package or add_subdirectory.
cmake_minimum_required(VERSION 3.21)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

set(work "${WORK_DIR}/${MODE}")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
set(common -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)

if(MODE STREQUAL "find_package")
  set(prefix "${work}/prefix")
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
  foreach(f include/resil/resil.hpp share/cmake/resil/resilConfig.cmake
            share/cmake/resil/resilConfigVersion.cmake share/pkgconfig/resil.pc)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer/find_package" -B "${work}/build" ${common}
      "-DCMAKE_PREFIX_PATH=${prefix}")
  run(${CMAKE_COMMAND} --build "${work}/build")
  run("${work}/build/consumer")

  # The same program built from the pkg-config file alone.
  find_program(PKG_CONFIG pkg-config)
  if(PKG_CONFIG)
    set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
    execute_process(COMMAND ${PKG_CONFIG} --cflags --libs resil OUTPUT_VARIABLE flags
                    RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "pkg-config cannot find resil.pc")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(${CXX} -std=c++20 ${flags} "${SOURCE_DIR}/tests/consumer/main.cpp" -o "${work}/pc_consumer")
    run("${work}/pc_consumer")
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer/add_subdirectory" -B "${work}/build"
      ${common} "-DRESIL_SOURCE_DIR=${SOURCE_DIR}")
  run(${CMAKE_COMMAND} --build "${work}/build")
  run("${work}/build/consumer")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
