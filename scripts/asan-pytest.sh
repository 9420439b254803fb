#!/bin/sh
# The share-mode tests with pycds's extension built under AddressSanitizer
# and UndefinedBehaviorSanitizer.  CPython itself is not instrumented, so
# the sanitizer runtimes are preloaded (and inherited by the tests'
# subprocesses); leak checking is off because the interpreter keeps memory
# alive at exit by design.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-3.12}"
venv="$here/.venv/asan-$version"
python="$("$here/scripts/find-python.sh" "$version")"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "setuptools>=77" wheel pytest pytest-xdist
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
(cd / && CFLAGS="$sanitize" LDFLAGS="$sanitize" PYCDS_WERROR=1 \
    PYCDS_BUILD_BASE=build/setuptools-asan \
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps "$here")
# Importing it needs the runtime preloaded: look at the file instead.
extension="$(find "$venv" -name '_cds*.so' | head -1)"
nm -D "$extension" | grep -q __asan_report ||
    { echo "asan-pytest: $extension is not instrumented" >&2; exit 1; }
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
# One worker per core, at most four: each runs sanitized interpreters that
# take several times plain memory (the cap binds only `auto`).
cd / && PYTHONSAFEPATH=1 LD_PRELOAD="$preload" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -n "${PYTEST_WORKERS:-auto}" --maxprocesses 4 \
    "$here/tests/python/test_container.py" "$here/tests/python/test_share.py" \
    "$here/tests/python/test_semantics.py" "$here/tests/python/test_reliability.py" \
    "$here/tests/python/test_dump.py" "$here/tests/python/test_run_programs.py" \
    "$here/tests/python/test_run_lifecycle.py" \
    "$here/tests/python/test_unit_records.py" \
    "$here/tests/python/test_snapshot_restore.py" \
    "$here/tests/python/test_class_image.py" "$here/tests/python/test_witness.py" \
    "$here/tests/python/test_unit_install.py" \
    "$here/tests/python/test_give_back.py"
