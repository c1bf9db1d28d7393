# Third-party dependencies, all from Debian packages the Makefile installs.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
# ONNX export (src/crank/export): ONNX's generated protobuf classes (libonnx-dev, libprotobuf-dev);
# TensorBoard event files (src/crank/summary): protoc (protobuf-compiler) and libprotobuf.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED)

# BLAS: OpenBLAS (OpenMP flavour) linked directly, never the generic libblas.so.3
# (which Debian may point at the netlib reference implementation).
set(CRANK_OPENBLAS_DIR /usr/lib/x86_64-linux-gnu/openblas-openmp CACHE PATH "OpenBLAS library dir")
set(CRANK_OPENBLAS_INCLUDE /usr/include/x86_64-linux-gnu/openblas-openmp CACHE PATH "OpenBLAS include dir")
find_library(CRANK_OPENBLAS_LIB NAMES openblas PATHS ${CRANK_OPENBLAS_DIR} NO_DEFAULT_PATH)
if(NOT CRANK_OPENBLAS_LIB)
  find_library(CRANK_OPENBLAS_LIB NAMES openblas REQUIRED)
endif()
add_library(crank_openblas INTERFACE)
target_link_libraries(crank_openblas INTERFACE ${CRANK_OPENBLAS_LIB})
target_include_directories(crank_openblas SYSTEM INTERFACE ${CRANK_OPENBLAS_INCLUDE})

# oneDNN (libdnnl-dev, OpenMP flavour) for bf16 GEMMs and the fp32 shapes where it beats
# OpenBLAS (src/crank/kernels/gemm_onednn.h). Without it every GEMM runs on OpenBLAS in fp32.
option(CRANK_WITH_ONEDNN "Use oneDNN matmul for bf16 and large fp32 GEMMs" ON)
add_library(crank_onednn INTERFACE)
if(CRANK_WITH_ONEDNN)
  find_package(dnnl CONFIG QUIET)
  if(dnnl_FOUND)
    target_link_libraries(crank_onednn INTERFACE DNNL::dnnl)
    target_compile_definitions(crank_onednn INTERFACE CRANK_HAVE_ONEDNN=1)
  else()
    message(WARNING "oneDNN not found (package libdnnl-dev): GEMMs use OpenBLAS, fp32 only")
  endif()
endif()

# MPI (libopenmpi-dev) for multi-process training (src/crank/dist). Without it the dist
# library has only the single-process group and `crank train` runs as one process.
option(CRANK_WITH_MPI "Build the MPI process group (multi-process training)" ON)
set(CRANK_HAVE_MPI OFF)
if(CRANK_WITH_MPI)
  set(MPI_CXX_SKIP_MPICXX ON)  # the C API only, no deprecated C++ bindings
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(CRANK_HAVE_MPI ON)
  else()
    message(WARNING "MPI not found (package libopenmpi-dev): training runs as one process only")
  endif()
endif()
find_program(CRANK_MPIRUN NAMES mpirun mpiexec)

if(CRANK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(CRANK_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
