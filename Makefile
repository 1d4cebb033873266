# The two commands of README.md, and a few more.
#
#   make run    install missing packages, build, start `osaurus serve` in the foreground
#   make test   install missing packages, build with -Werror, run every test, then run the
#               whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make        (or make build) build only: build/osaurus
#   make fuzz   build the libFuzzer targets with clang and run each for FUZZ_SECONDS
#   make bench  run the benchmarks in bench/

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

.PHONY: all build run sdk test test-fast test-asan deps fuzz bench clean format

all: build

deps:
	@scripts/deps.sh

# The official client SDKs the end-to-end tests drive the server with (tests/sdk).
sdk:
	scripts/sdk_deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	@scripts/deps.sh --check || { echo "run 'make deps' (as root) first"; exit 1; }
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	$(BUILD)/osaurus serve $(ARGS)

# The full suite: -Werror build + tests, then the sanitizer pass.
test: deps
	scripts/sdk_deps.sh
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSR_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOSR_WERROR=ON -DOSR_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Just the normal pass, for quick iteration.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSR_FUZZ=ON -DOSR_SANITIZE=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for f in $(FUZZ_BUILD)/fuzz_*; do \
		name=$$(basename $$f); name=$${name#fuzz_}; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		echo "== fuzzing $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_BUILD)/ \
			$(FUZZ_BUILD)/corpus/$$name fuzz/corpus/$$name || exit 1; \
	done

bench: build
	bench/http.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
