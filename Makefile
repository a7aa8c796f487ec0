# moe: the two commands of the quick start are `make run` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CONFIG ?= config/moe.yaml
CMAKE_FLAGS ?=
# Where scripts/install-deps.sh puts a Go toolchain when the machine has no
# go >= 1.21 (Debian 12's is 1.19); first on PATH for every recipe, so the
# one `make` that installs it also builds with it. Absent, it is skipped.
MOE_GO_ROOT ?= $(HOME)/.cache/moe/go1.26.8
export MOE_GO_ROOT
export PATH := $(MOE_GO_ROOT)/bin:$(PATH)

.PHONY: all deps build build-asan build-fuzz fuzz run test test-unit tools bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

# C++ data plane under AddressSanitizer + UndefinedBehaviorSanitizer, without
# the Go runtime (which cannot run under ASan); see docs/testing.md.
$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMOE_SANITIZE=ON -DMOE_WITH_GO=OFF

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)

# libFuzzer harnesses (clang): the HTTP/1 request parser, the config loader,
# the h2 frame gate, a whole h2c connection to a worker, the path normaliser
# and the admin listener; moe_core is built with coverage for them.
# `make fuzz` runs each for MOE_FUZZ_SECONDS (docs/fuzzing.md).
$(FUZZ_BUILD)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DMOE_SANITIZE=ON -DMOE_WITH_GO=OFF -DMOE_FUZZ_SECONDS=15 -DMOE_FUZZ_INSTRUMENT_CORE=ON

build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) --target http1_request_fuzz config_fuzz h2_frame_gate_fuzz connection_fuzz path_normalize_fuzz admin_fuzz

fuzz: build-fuzz
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -R fuzz_smoke

# Test tools fetched from the Go module proxy (pinned): h2spec, the HTTP/2
# conformance suite the integration tests run against moe.
H2SPEC_VERSION ?= v2.2.1+incompatible
tools: $(BUILD)/tools/h2spec

$(BUILD)/tools/h2spec:
	GOBIN=$(abspath $(BUILD))/tools go install github.com/summerwind/h2spec/cmd/h2spec@$(H2SPEC_VERSION)

run: build
	./$(BUILD)/moe -c $(CONFIG)

# Every test: unit, goext and integration against the release build; unit
# and integration again against the ASan+UBSan build (no Go there: the Go
# filter tests skip); the fuzz harnesses for a short run.
test: build build-asan build-fuzz tools
	ctest --test-dir $(BUILD) --output-on-failure
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -R fuzz_smoke

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -R unit

bench: build
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
