# Helpers that keep every module a separate target, so the link graph enforces the architecture.
#
#   rocketmart_add_library(NAME name SRCS a.cpp ... DEPS target ...)
#     -> static library rocketmart_<name>, include root = src/
#   rocketmart_add_test(NAME name SRCS a_test.cpp ... DEPS target ... LABELS unit|integration|e2e)
#     -> GoogleTest executable registered with CTest under the given labels.

set(ROCKETMART_WARNINGS -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
set(ROCKETMART_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

function(rocketmart_apply_common target)
  target_compile_options(${target} PRIVATE ${ROCKETMART_WARNINGS})
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
  if(ROCKETMART_SANITIZE)
    target_compile_options(${target} PUBLIC ${ROCKETMART_SANITIZER_FLAGS})
    target_link_options(${target} PUBLIC ${ROCKETMART_SANITIZER_FLAGS})
  endif()
endfunction()

function(rocketmart_add_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target rocketmart_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
    rocketmart_apply_common(${target})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(rocketmart::${ARG_NAME} ALIAS ${target})
endfunction()

function(rocketmart_add_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  set(target test_${ARG_NAME})
  add_executable(${target} ${ARG_SRCS})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  rocketmart_apply_common(${target})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${target})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "ROCKETMART_BINARY=$<TARGET_FILE:rocketmart>")
endfunction()
