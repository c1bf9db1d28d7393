# crank_cc_library(NAME SRCS ... DEPS ...): one folder = one static library target.
#
# Layering: a library sees only its own headers and those of its DEPS (transitively), never the
# whole src/ tree. Each folder src/crank/<f> gets an include root <build>/include/<f> holding one
# link, crank/<f> -> the folder, and only that root is the library's PUBLIC include directory.
# An include of a higher folder's header ("crank/train/trainer.h" from layers/) therefore fails
# to compile; tests/layering checks that it does.
function(crank_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  crank_folder_include_root(root)
  target_include_directories(${name} PUBLIC ${root})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(CRANK_NATIVE)
    target_compile_options(${name} PRIVATE -march=native)
  endif()
endfunction()

# Sets `out` to the include root of the current folder (see crank_cc_library), creating it.
function(crank_folder_include_root out)
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(root ${CMAKE_BINARY_DIR}/include/${folder})
  file(MAKE_DIRECTORY ${root}/crank)
  if(NOT EXISTS ${root}/crank/${folder})
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/crank/${folder} SYMBOLIC)
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()

# crank_cc_test(NAME SRCS ... DEPS ... [LABELS ...]): a GoogleTest binary registered with CTest.
# It sees the headers of its DEPS (as a library would) and the shared test helpers in tests/.
# LABELS are CTest labels of every test in it (the presets filter on them).
function(crank_cc_test name)
  if(NOT CRANK_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    CRANK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    CRANK_BINARY_DIR="${CMAKE_BINARY_DIR}")
  if(ARG_LABELS)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 LABELS "${ARG_LABELS}")
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
  endif()
endfunction()
