# The two commands:
#   make run    install dependencies, build, start the embedded server on :8080 (data in ./data)
#   make test   install dependencies, build, run every test (and the unit tests under ASan+UBSan)
BUILD_DIR      ?= build
SANITIZE_DIR   ?= build-asan
FUZZ_DIR       ?= build-fuzz
TSAN_DIR       ?= build-tsan
BUILD_TYPE     ?= Release
JOBS           ?= $(shell nproc)
PORT           ?= 8080
DATA_DIR       ?= ./data
CTEST_FLAGS    ?= --output-on-failure --timeout 900

.PHONY: all setup configure build run test test-fast test-sanitize test-tsan test-fuzz bench format check-format clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	./$(BUILD_DIR)/rocketmart serve --port $(PORT) --data-dir $(DATA_DIR)

# Everything: unit, integration and end-to-end tests on the release build, then the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer, then each
# fuzz target for a while.
test: build
	cd $(BUILD_DIR) && ctest $(CTEST_FLAGS) -j$(JOBS)
	@$(MAKE) --no-print-directory test-sanitize
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-fuzz

# Unit tests only (seconds).
test-fast: build
	cd $(BUILD_DIR) && ctest $(CTEST_FLAGS) -j$(JOBS) -L unit

test-sanitize: setup
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DROCKETMART_SANITIZE=ON -DROCKETMART_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_DIR) -j$(JOBS) --target unit_tests
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest $(CTEST_FLAGS) -j$(JOBS) -L unit

# Unit tests under ThreadSanitizer: any data race report fails the run.
test-tsan: setup
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROCKETMART_TSAN=ON -DROCKETMART_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS) --target unit_tests
	cd $(TSAN_DIR) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest $(CTEST_FLAGS) -j$(JOBS) -L unit

# libFuzzer targets (clang, ASan+UBSan) for FUZZ_SECONDS each; see fuzz/README.md.
test-fuzz: setup
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROCKETMART_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_DIR) -j$(JOBS)
	bash fuzz/run.sh $(FUZZ_DIR)

# Benchmarks: nginx vs rocketmart with wrk, and the drop scenario (see bench/README.md); then the
# storefront's static files, first page load and live-stock fan-out (bench/storefront.sh).
bench: build
	bash bench/run.sh $(BUILD_DIR)
	bash bench/storefront.sh $(BUILD_DIR)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

check-format:
	@clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(TSAN_DIR) $(FUZZ_DIR)
