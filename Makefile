# The two commands:
#   make run    install what building and running need, build, start the server on :8080
#               (data in ./data)
#   make test   install that plus the test tools, build, run every test: the tiers that run the
#               server binary on the release build, the in-process tiers under ASan+UBSan and
#               under TSan, then the fuzz targets
# Test tiers (CTest labels, tests/README.md): unit, process, contract, e2e; openapi, docs, script.
# Each target installs only what it needs (scripts/setup.sh run|test|bench); none touches a
# service the machine already runs.
BUILD_DIR      ?= build
SANITIZE_DIR   ?= build-asan
FUZZ_DIR       ?= build-fuzz
TSAN_DIR       ?= build-tsan
BUILD_TYPE     ?= Release
JOBS           ?= $(shell nproc)
PORT           ?= 8080
DATA_DIR       ?= ./data
CTEST_FLAGS    ?= --output-on-failure --timeout 900 --no-tests=error
# The tiers that run inside the test process (no server binary): what the sanitizer builds run.
INPROCESS_LABELS ?= ^(unit|process|contract)$$
# The sanitizer builds use clang with line tables only: on this code (Asio coroutines) GCC 12
# took twice as long per file under ASan+UBSan or TSan, and full debug info another fifth, which
# CI's time limit cannot afford three builds of (docs/adr/0050-ci-build-time.md). Line tables are
# all a sanitizer's report needs for file:line stacks.
SANITIZER_BUILD      ?= -DCMAKE_CXX_COMPILER=clang++
SANITIZER_DEBUG_INFO ?= -gline-tables-only

CLUSTER_DIR    ?= ./cluster

.PHONY: all setup setup-run setup-test setup-bench setup-cluster configure build build-only run cluster cluster-down test test-fast test-sanitize test-tsan test-fuzz bench format check-format clean

all: build

# Everything (run + test + bench tools).
setup:
	@bash scripts/setup.sh all
setup-run:
	@bash scripts/setup.sh run
setup-test:
	@bash scripts/setup.sh test
setup-bench:
	@bash scripts/setup.sh bench
setup-cluster:
	@bash scripts/setup.sh cluster

# Tests and benchmarks are built when their libraries are installed (make test / make bench
# install them); make build alone needs only the run packages.
configure: setup-run
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# Configure and build without installing anything (for targets that ran their own setup).
build-only:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(BUILD_OPTIONS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	./$(BUILD_DIR)/rocketmart serve --port $(PORT) --data-dir $(DATA_DIR)

# A local cluster (docs/cluster.md): etcd, PostgreSQL, Redis, CLUSTER_N instances of every service
# and a gateway on loopback, data under $(CLUSTER_DIR); prints the gateway URL. cluster-down stops it.
cluster: setup-cluster
	@$(MAKE) --no-print-directory build-only
	@ROCKETMART_BIN=$(BUILD_DIR)/rocketmart bash scripts/cluster.sh up $(CLUSTER_DIR)
cluster-down:
	@bash scripts/cluster.sh down $(CLUSTER_DIR)

# Everything: the tiers that run the server binary (e2e, openapi, docs, browser, web, script) on
# the release build, then the in-process tiers (unit, process, contract) under AddressSanitizer +
# UndefinedBehaviorSanitizer and under ThreadSanitizer, then each fuzz target for a while. The
# release build does not build the in-process tiers a third time (docs/adr/0050-ci-build-time.md);
# make test-fast builds and runs the unit tier there.
test: setup-test
	@$(MAKE) --no-print-directory build-only BUILD_OPTIONS=-DROCKETMART_INPROCESS_TESTS=OFF
	cd $(BUILD_DIR) && ctest $(CTEST_FLAGS) -j$(JOBS)
	@$(MAKE) --no-print-directory test-sanitize
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-fuzz

# The unit tier only (one process, no children, seconds).
test-fast: setup-test
	@$(MAKE) --no-print-directory build-only BUILD_OPTIONS=-DROCKETMART_INPROCESS_TESTS=ON
	cd $(BUILD_DIR) && ctest $(CTEST_FLAGS) -j$(JOBS) -L '^unit$$'

test-sanitize: setup-test
	@cmake -S . -B $(SANITIZE_DIR) $(SANITIZER_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O0 $(SANITIZER_DEBUG_INFO)" -DROCKETMART_SANITIZE=ON -DROCKETMART_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_DIR) -j$(JOBS) --target inprocess_tests
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest $(CTEST_FLAGS) -j$(JOBS) -L '$(INPROCESS_LABELS)'

# The in-process tiers under ThreadSanitizer: any data race report fails the run.
test-tsan: setup-test
	@cmake -S . -B $(TSAN_DIR) $(SANITIZER_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG $(SANITIZER_DEBUG_INFO)" -DROCKETMART_TSAN=ON \
	  -DROCKETMART_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS) --target inprocess_tests
	cd $(TSAN_DIR) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest $(CTEST_FLAGS) -j$(JOBS) -L '$(INPROCESS_LABELS)'

# libFuzzer targets (clang, ASan+UBSan) for FUZZ_SECONDS each; see fuzz/README.md.
test-fuzz: setup-test
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG $(SANITIZER_DEBUG_INFO)" -DROCKETMART_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_DIR) -j$(JOBS)
	bash fuzz/run.sh $(FUZZ_DIR)

# Benchmarks: nginx vs rocketmart with wrk, and the drop scenario (see bench/README.md); then the
# storefront's static files, first page load and live-stock fan-out (bench/storefront.sh).
bench: setup-bench
	@$(MAKE) --no-print-directory build-only
	bash bench/run.sh $(BUILD_DIR)
	bash bench/storefront.sh $(BUILD_DIR)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

check-format:
	@clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(TSAN_DIR) $(FUZZ_DIR)
