# crank: make demo | test | build | bench | fuzz | format | clean
# Every target installs the Debian packages it needs first (apt-get), so both quick-start
# commands work on a fresh Debian machine.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PKGS := cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libyaml-cpp-dev libcli11-dev \
        libfmt-dev libopenblas-openmp-dev nlohmann-json3-dev
BENCH_PKGS := libbenchmark-dev python3-torch python3-numpy
FUZZ_PKGS := clang libclang-rt-14-dev

define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: deps build test demo bench fuzz format clean

deps:
	$(call install_missing,$(PKGS))

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRANK_BUILD_TESTS=ON
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

bench: deps
	$(call install_missing,$(BENCH_PKGS))
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRANK_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS)
	./bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD)
