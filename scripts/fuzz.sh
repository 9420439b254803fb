#!/bin/sh
# Fuzz the libcds reader for FUZZ_SECONDS (default 60) under ASan and UBSan
# with libFuzzer, from a seed corpus of real archives: libcds sample archives
# and pycds archives of real code objects; then librun's decoders (requests,
# frames, command lines) for REQUEST_FUZZ_SECONDS (default 30) from real
# requests; then a snapshot restore of mutated units (fuzz_unit, embedding
# CPython 3.12 with pycds built for it) for UNIT_FUZZ_SECONDS (default 60),
# from real units.  Exits non-zero on any crash.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"
request_seconds="${REQUEST_FUZZ_SECONDS:-30}"
unit_seconds="${UNIT_FUZZ_SECONDS:-60}"

# The unit fuzzer's interpreter: a virtual environment of its own, with
# pycds's extension built by clang with coverage and the sanitizers (the
# target's runtime serves both); CPython itself is not instrumented.
unit_venv="$build/venv-3.12"
mkdir -p "$build"
[ -x "$unit_venv/bin/python" ] ||
    "$("$here/scripts/find-python.sh" 3.12)" -m venv "$unit_venv"
"$unit_venv/bin/python" -m pip install -q --disable-pip-version-check \
    "setuptools>=77" wheel
instrument="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer"
(cd / && CC=clang LDSHARED="clang -shared" CFLAGS="$instrument" \
    LDFLAGS="-fsanitize=address,undefined" PYCDS_BUILD_BASE=build/setuptools-fuzz \
    "$unit_venv/bin/python" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps "$here")

CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
    -DCDS_SANITIZE=ON -DCDS_BUILD_FUZZ=ON \
    -DCDS_FUZZ_PYTHON="$unit_venv/bin/python" >/dev/null
cmake --build "$build" -j 2 --target fuzz_archive make_fixture fuzz_request \
    request_seeds fuzz_unit >/dev/null

seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds" "$build/corpus"
for modules in 0 1 3 12; do
    "$build/tests/c/make_fixture" "$seeds/fixture-$modules.img" "$modules"
done
# pycds archives of real code objects, from whichever test venv exists.
for python in "$here"/.venv/3.1[123]/bin/python; do
    [ -x "$python" ] || continue
    (cd / && "$python" - "$seeds/pycds-$(basename "$(dirname "$(dirname "$python")")").img" <<'PY'
import sys, pycds
source = "X = (1, 'two', 3.0, b'4', frozenset({'a'}))\ndef f(a, *, b=2):\n    return [a, b, f'{a}']\n"
w = pycds.Writer()
for name in ("alpha", "beta"):
    w.begin_module(name, origin=f"/src/{name}.py", source_size=len(source))
    w.end_module(w.add_code(compile(source, f"/src/{name}.py", "exec")))
# A unit record, as the snapshot dumper writes one: a name holding a NUL.
w.begin_module("alpha" + pycds._cds.UNIT_SUFFIX, is_unit=True,
               origin="/src/alpha.py", extra=b"unit\0bytes")
w.end_module(w.add_bytes(bytes(8)))
w.finish(sys.argv[1])
PY
    )
done

# Runs one fuzzer; fails when it left a crash, leak or time-out behind
# (ASan's options: $5, leak checking unless given).
fuzz() {
    target="$1" corpus="$2" seed_dir="$3" limit="$4" options="${5:-detect_leaks=1}"
    rm -f "$build"/crash-* "$build"/leak-* "$build"/timeout-* "$build"/oom-*
    ASAN_OPTIONS="$options" "$build/tests/fuzz/$target" \
        -max_total_time="$limit" -max_len=65536 -timeout=10 \
        -artifact_prefix="$build/" \
        -print_final_stats=1 "$corpus" "$seed_dir" 2>&1 |
        awk '/AddressSanitizer failed to allocate/ { refused++; next }
             /^(stat::|Done|INFO: seed corpus|==|SUMMARY|#[0-9]+ +DONE)/
             END { if (refused) print refused " allocations over the limit refused" }'
    # libFuzzer exits non-zero on a crash; the pipe above hides it, so
    # check the artifacts it leaves instead.
    # (Each pattern on its own: ls of several fails when any one matches
    # nothing, which hid a crash when no leak or time-out was left too.)
    for artifact in "$build"/crash-* "$build"/leak-* "$build"/timeout-* \
        "$build"/oom-*; do
        if [ -e "$artifact" ]; then
            echo "fuzz: $target crashed (see $artifact)" >&2
            exit 1
        fi
    done
    echo "fuzz: $target: no crash in ${limit}s"
}

fuzz fuzz_archive "$build/corpus" "$seeds" "$seconds"
request_seeds="$build/request-seeds"
rm -rf "$request_seeds" && mkdir -p "$request_seeds" "$build/request-corpus"
"$build/tests/fuzz/request_seeds" "$request_seeds"
fuzz fuzz_request "$build/request-corpus" "$request_seeds" "$request_seconds"

# Seeds: real units of a small package, dumped by the tests' interpreter
# (the same CPython; the instrumented extension loads only in the target),
# with pycds installed from this tree (a unit's format is its pycds's).
unit_seeds="$build/unit-seeds"
"$here/scripts/venv.sh" 3.12
rm -rf "$unit_seeds" && mkdir -p "$unit_seeds" "$build/unit-corpus"
(cd / && env -u PYCDSMODE -u PYTHONDONTWRITEBYTECODE \
    "$here/.venv/3.12/bin/python" "$here/tests/fuzz/unit_seeds.py" "$unit_seeds")
# CPython keeps memory alive by design: no leak checking in this one.  A
# size or memo index read from a unit's pickles may ask malloc for more
# than there is (the unpickler grows its memo to the index it is given):
# above 256 MiB malloc returns NULL, which CPython turns into MemoryError,
# the restore's refusal.
export FUZZ_UNIT_PYTHON="$unit_venv/bin/python" FUZZ_UNIT_SEEDS="$unit_seeds"
export FUZZ_UNIT_HARNESS="$here/tests/fuzz"
fuzz fuzz_unit "$build/unit-corpus" "$unit_seeds/units" "$unit_seconds" \
    detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=256
