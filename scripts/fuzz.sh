#!/bin/sh
# Fuzz the libcds reader for FUZZ_SECONDS (default 60) under ASan and UBSan
# with libFuzzer, from a seed corpus of real archives: libcds sample archives
# and pycds archives of real code objects; then librun's decoders (requests,
# frames, command lines) for REQUEST_FUZZ_SECONDS (default 30) from real
# requests.  Exits non-zero on any crash.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"
request_seconds="${REQUEST_FUZZ_SECONDS:-30}"
CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
    -DCDS_SANITIZE=ON -DCDS_BUILD_FUZZ=ON >/dev/null
cmake --build "$build" -j 2 --target fuzz_archive make_fixture fuzz_request \
    request_seeds >/dev/null

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

# Runs one fuzzer; fails when it left a crash, leak or time-out behind.
fuzz() {
    target="$1" corpus="$2" seed_dir="$3" limit="$4"
    rm -f "$build"/crash-* "$build"/leak-* "$build"/timeout-*
    ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/$target" \
        -max_total_time="$limit" -max_len=65536 -timeout=10 \
        -artifact_prefix="$build/" \
        -print_final_stats=1 "$corpus" "$seed_dir" 2>&1 |
        grep -E "^(stat::|Done|INFO: seed corpus|==|SUMMARY|#[0-9]+ +DONE)" || true
    # libFuzzer exits non-zero on a crash; the pipe above hides it, so
    # check the artifacts it leaves instead.
    if ls "$build"/crash-* "$build"/leak-* "$build"/timeout-* >/dev/null 2>&1; then
        echo "fuzz: $target crashed (see $build/crash-*)" >&2
        exit 1
    fi
    echo "fuzz: $target: no crash in ${limit}s"
}

fuzz fuzz_archive "$build/corpus" "$seeds" "$seconds"
request_seeds="$build/request-seeds"
rm -rf "$request_seeds" && mkdir -p "$request_seeds" "$build/request-corpus"
"$build/tests/fuzz/request_seeds" "$request_seeds"
fuzz fuzz_request "$build/request-corpus" "$request_seeds" "$request_seconds"
