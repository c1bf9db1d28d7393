# crank: make demo | test | build | python | bench | asan | tsan | fuzz | format | clean
# Every target installs the Debian packages it needs first (apt-get), so both quick-start
# commands work on a fresh Debian machine.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PKGS := cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libyaml-cpp-dev libcli11-dev \
        libfmt-dev libopenblas-openmp-dev nlohmann-json3-dev libdnnl-dev \
        libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx libcpp-httplib-dev libpng-dev \
        libopenmpi-dev openmpi-bin libsimdjson-dev
# The Python package (python/, docs/python.md): bindings, pytest suite, pip install offline.
PY_PKGS := pybind11-dev python3-dev python3-numpy python3-pytest python3-venv python3-setuptools \
           python3-wheel
BENCH_PKGS := libbenchmark-dev python3-torch python3-numpy libopenblas0-openmp wrk
FUZZ_PKGS := clang libclang-rt-14-dev libomp-dev
FUZZ_SECONDS ?= 60

define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: deps build test onnxruntime-node browser demo python bench asan tsan fuzz format clean

deps:
	$(call install_missing,$(PKGS) $(PY_PKGS))

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRANK_BUILD_TESTS=ON
	cmake --build $(BUILD) -j $(JOBS)

test: build onnxruntime-node browser
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ONNX Runtime for the export tests (tests/onnxruntime_test.cc): onnxruntime-node (CPU runtime
# included) from the npm registry into $(BUILD)/onnxruntime-node. --ignore-scripts skips its
# install script, which fetches GPU parts from a host that may be unreachable. Debian's npm is
# installed only when no npm command exists (nodesource's nodejs brings its own).
ORT_NODE_VERSION ?= 1.30.0
ORT_NODE_DIR := $(BUILD)/onnxruntime-node
onnxruntime-node:
	@command -v npm >/dev/null 2>&1 || { echo "installing: npm"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm; }
	@grep -qs '"version": "$(ORT_NODE_VERSION)"' $(ORT_NODE_DIR)/node_modules/onnxruntime-node/package.json || \
	  npm install --prefix $(ORT_NODE_DIR) --ignore-scripts --no-audit --no-fund onnxruntime-node@$(ORT_NODE_VERSION) || \
	  echo "warning: onnxruntime-node could not be installed; the ONNX Runtime tests will skip and say so"

# Debian's chromium for the browser test of `crank report` (tests/report_browser_test.cc,
# label browser); when it cannot be installed that test skips and says why.
browser:
	@dpkg-query -W -f='$${Status}' chromium 2>/dev/null | grep -q "install ok installed" || { \
	  echo "installing: chromium"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium || \
	  echo "warning: chromium could not be installed; the browser test of crank report will skip and say so"; }

# python: the extension module and package in $(BUILD)/python (PYTHONPATH=$(BUILD)/python).
python: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRANK_BUILD_TESTS=ON
	cmake --build $(BUILD) -j $(JOBS) --target crank_python crank_cli

demo: build
	./scripts/demo.sh $(BUILD)

bench: deps
	$(call install_missing,$(BENCH_PKGS))
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRANK_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS) --target machine_limits micro_kernels train_throughput
	./bench/run.sh $(BUILD)

# Sanitizer builds and fuzzing (docs/reliability.md, CMakePresets.json).
# asan: the whole test suite under AddressSanitizer + LeakSanitizer + UBSan (build-asan/).
asan: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# tsan: the threaded tests (streaming reader, OpenMP kernels) under ThreadSanitizer, built with
# clang and libomp (build-tsan/).
tsan: deps
	$(call install_missing,$(FUZZ_PKGS))
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS)

# fuzz: every libFuzzer target for FUZZ_SECONDS each (build-fuzz/); fails on any finding.
fuzz: deps
	$(call install_missing,$(FUZZ_PKGS))
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	./fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD)
