# Thin wrapper over CMake. `make run` and `make test` do all set-up on a fresh
# Debian 12 machine (scripts/bootstrap installs what is missing).
PRESET_TEST ?= asan
PRESET_RUN  ?= release
DATA        ?= $(CURDIR)/.data
LISTEN      ?= 127.0.0.1:8080
UP_ARGS     ?=
JOBS        ?= $(shell nproc)

# CMake's own Makefiles run as sub-makes of this one; without this each of them prints
# "make[3]: Entering directory ..." around its lines.
MAKEFLAGS   += --no-print-directory

.PHONY: all build bootstrap run test package fuzz bench format format-check clean

all: build

bootstrap:
	@scripts/bootstrap

# The dev preset registers the test suite, whose dependencies it then requires.
build: bootstrap
	@scripts/bootstrap --tests
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

run: bootstrap
	@cmake --preset $(PRESET_RUN) >/dev/null
	@cmake --build --preset $(PRESET_RUN) -j $(JOBS)
	@exec build/$(PRESET_RUN)/cli/fieldplane up --data $(DATA) --listen $(LISTEN) $(UP_ARGS)

# Every test under ASan+UBSan, then each libFuzzer harness for FUZZ_SECONDS. The release
# build that `make run` uses is compiled too: gcc -O2 warns (as errors) about things the
# sanitizer build does not see, such as format truncation. Configuring prints the size of
# the suite ("fieldplane: N unit, M system, ..."); a missing test dependency stops it.
FUZZ_SECONDS ?= 10

# The package tests (tests/package/) make the Debian packages from the package preset's tree,
# which is built first so that they only package.
test: bootstrap
	@scripts/bootstrap --tests
	@cmake --preset $(PRESET_TEST) >/dev/null
	@cmake --build --preset $(PRESET_TEST) -j $(JOBS)
	@JOBS=$(JOBS) packaging/build.sh --build-only
	@cd build/$(PRESET_TEST) && ctest --output-on-failure -j $(JOBS) --timeout 900
	@cmake --preset $(PRESET_RUN) >/dev/null
	@cmake --build --preset $(PRESET_RUN) -j $(JOBS)
	@cmake --preset fuzz -DFP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@cd build/fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz --timeout 300

# Debian packages (packaging/, docs/install.md) into build/package/packages/.
package: bootstrap
	@JOBS=$(JOBS) packaging/build.sh

fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

bench: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)
	@bench/registry/run.sh build/release

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	@rm -rf build
