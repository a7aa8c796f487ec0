# moe: the two commands of the quick start are `make run` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
CONFIG ?= config/moe.yaml
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run test test-asan test-unit bench clean

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

run: build
	./$(BUILD)/moe -c $(CONFIG)

test: build build-asan
	ctest --test-dir $(BUILD) --output-on-failure
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -R unit

bench: build
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
