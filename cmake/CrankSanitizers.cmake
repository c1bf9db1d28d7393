# Sanitizer builds (docs/reliability.md). CRANK_SANITIZE selects one for the whole build:
#   address  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer; any UB report aborts
#            (-fno-sanitize-recover). GCC or clang.
#   thread   ThreadSanitizer. Use clang: its -fopenmp runtime (libomp) carries the annotations
#            that TSan needs to understand OpenMP barriers (with libarcher.so loaded), libgomp
#            does not and gives false reports.
# Either way the code is compiled -O1 -g with frame pointers, for usable stack traces at a
# tolerable speed. CRANK_BUILD_FUZZ additionally instruments every library for libFuzzer's
# coverage feedback (clang only); the fuzz executables themselves link -fsanitize=fuzzer.

set(CRANK_SANITIZE "" CACHE STRING "Sanitizer build: empty (none), address (ASan+UBSan) or thread")
set_property(CACHE CRANK_SANITIZE PROPERTY STRINGS "" address thread)

if(CRANK_SANITIZE STREQUAL "address")
  set(CRANK_SANITIZER_FLAGS
      -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(CRANK_SANITIZE STREQUAL "thread")
  set(CRANK_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT CRANK_SANITIZE STREQUAL "")
  message(FATAL_ERROR "CRANK_SANITIZE must be empty, 'address' or 'thread', not '${CRANK_SANITIZE}'")
endif()

if(CRANK_SANITIZE)
  # Compile options come after CMAKE_CXX_FLAGS_<CONFIG> on the command line, so -O1 wins.
  add_compile_options(${CRANK_SANITIZER_FLAGS} -O1 -g)
  add_link_options(${CRANK_SANITIZER_FLAGS})
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # At -O1 clang cannot honour every `#pragma omp simd` and says so for each loop.
    add_compile_options(-Wno-pass-failed)
  endif()
  message(STATUS "crank: sanitizer build (${CRANK_SANITIZE}): ${CRANK_SANITIZER_FLAGS}")
endif()

# Canaries: tests that pass only when the sanitizer reports a planted bug, so a build whose
# sanitizer is silently inactive (flags lost, OpenMP runtime without TSan annotations, Archer
# not loaded) fails instead of passing vacuously.
if(CRANK_SANITIZE AND CRANK_BUILD_TESTS)
  set(canary_dir ${CMAKE_BINARY_DIR}/sanitizer_canaries)
  if(CRANK_SANITIZE STREQUAL "address")
    file(WRITE ${canary_dir}/asan_canary.cc [=[
// Planted bugs: a heap-buffer-overflow (argv[1] == "heap") or a signed overflow ("ub").
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>
int main(int argc, char** argv) {
  std::vector<int> v(4, 1);
  volatile int i = 4;
  if (argc > 1 && std::strcmp(argv[1], "heap") == 0) std::printf("%d\n", v.data()[i]);
  volatile int big = INT_MAX;
  if (argc > 1 && std::strcmp(argv[1], "ub") == 0) std::printf("%d\n", big + i);
  return 0;
}
]=])
    add_executable(crank_asan_canary ${canary_dir}/asan_canary.cc)
    add_test(NAME SanitizerCanary.AsanReportsAHeapOverflow COMMAND crank_asan_canary heap)
    set_tests_properties(SanitizerCanary.AsanReportsAHeapOverflow PROPERTIES
                         PASS_REGULAR_EXPRESSION "AddressSanitizer: heap-buffer-overflow")
    add_test(NAME SanitizerCanary.UbsanReportsASignedOverflow COMMAND crank_asan_canary ub)
    set_tests_properties(SanitizerCanary.UbsanReportsASignedOverflow PROPERTIES
                         PASS_REGULAR_EXPRESSION "runtime error: signed integer overflow")
  else()
    file(WRITE ${canary_dir}/tsan_canary.cc [=[
// A planted data race inside an OpenMP parallel loop (every thread adds to `sum`).
#include <cstdio>
int main() {
  float sum = 0;
#pragma omp parallel for schedule(static) num_threads(2)
  for (int i = 0; i < 1000; ++i) sum += static_cast<float>(i);
  std::printf("%f\n", sum);
  return 0;
}
]=])
    add_executable(crank_tsan_canary ${canary_dir}/tsan_canary.cc)
    target_link_libraries(crank_tsan_canary PRIVATE OpenMP::OpenMP_CXX)
    add_test(NAME SanitizerCanary.TsanReportsAnOpenMpDataRace COMMAND crank_tsan_canary)
    set_tests_properties(SanitizerCanary.TsanReportsAnOpenMpDataRace PROPERTIES
                         PASS_REGULAR_EXPRESSION "ThreadSanitizer: data race")
  endif()
endif()

if(CRANK_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CRANK_BUILD_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++ (make fuzz does)")
  endif()
  if(NOT CRANK_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "CRANK_BUILD_FUZZ needs CRANK_SANITIZE=address (make fuzz sets it)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
