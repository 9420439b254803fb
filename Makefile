# pycds - the two commands in the README are `make demo` and `make test`.
# Each installs what it needs (Debian packages, project virtual environments).

PYTHON_VERSIONS ?= 3.11 3.12 3.13
DEMO_PYTHON ?= 3.11
ASAN_PYTHON ?= 3.12
# pytest workers (pytest-xdist): tests spend most of their time waiting
# on the processes they start, so one per core halves the suites.
PYTEST_WORKERS ?= auto
JOBS ?= 2

.PHONY: test demo deps build ctest ctest-asan fuzz venvs pytest pytest-asan dist test-dist bench bench-startup bench-preload format clean

test: ctest ctest-asan pytest fuzz pytest-asan

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

ctest: build
	ctest --test-dir build --output-on-failure

# The C tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
ctest-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCDS_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure

# libFuzzer over the archive reader under ASan+UBSan, FUZZ_SECONDS long;
# after pytest, so that the venvs exist to add pycds archives to the seeds.
fuzz: deps
	scripts/fuzz.sh

venvs: deps
	@for v in $(PYTHON_VERSIONS); do \
	    echo "== venv $$v"; scripts/venv.sh $$v || exit 1; done

# pytest on every CPython, each in its own virtual environment.  Tests run
# from outside the tree with PYTHONSAFEPATH so they import the installed
# package, never the sources.
pytest: venvs
	@for v in $(PYTHON_VERSIONS); do \
	    echo "== pytest on CPython $$v"; \
	    (cd / && PYTHONSAFEPATH=1 $(CURDIR)/.venv/$$v/bin/python -m pytest \
	        -p no:cacheprovider -q -n $(PYTEST_WORKERS) \
	        $(CURDIR)/tests/python) || exit 1; done

# The share-mode suites with the extension under ASan+UBSan (one CPython).
pytest-asan: deps
	PYTEST_WORKERS=$(PYTEST_WORKERS) scripts/asan-pytest.sh $(ASAN_PYTHON)

# The sdist and a manylinux wheel per CPython in dist/ (tools from PyPI
# into .venv/dist-tools), stripped, auditwheel-repaired, twine-checked.
dist: deps
	scripts/dist.sh

# Each wheel, and the sdist built alone, installed into a fresh virtual
# environment and run from elsewhere: --version, trace/dump/share of the
# example, pycds-run.  2-3.5 minutes with `dist`: .ci/run runs it after
# `make test`.
test-dist: dist
	.venv/dist-tools/bin/python scripts/check-dist.py

demo: deps
	@scripts/venv.sh $(DEMO_PYTHON)
	@cd / && PYTHONSAFEPATH=1 $(CURDIR)/.venv/$(DEMO_PYTHON)/bin/python \
	    $(CURDIR)/examples/demo.py

bench: build
	./build/bench/bench_libcds

# Whole-process start-up against plain CPython, every version (minutes).
bench-startup: deps
	bench/run-startup.sh

# Preloaded interpreters (pycds-run, pool) against plain and SHARE, every
# version (minutes; torch on 3.11).
bench-preload: deps
	bench/run-preload.sh

format:
	clang-format -i libcds/include/cds/*.h libcds/src/*.[ch] pycds/ext/*.[ch] \
	    librun/include/run/*.h librun/src/*.[ch] tools/pycds-run/*.[ch] \
	    tools/*.c tests/c/*.[ch] bench/*.cc

clean:
	rm -rf build build-asan build-fuzz .venv dist
