#!/bin/sh
# The preloaded-interpreter benchmark on every CPython: a benchmark venv per
# version (.venv/bench-X.Y, shared with the start-up benchmark) with pycds,
# boto3 and numpy (and torch, CPU, on 3.11), then bench/preload.py, whose
# tables land in bench/results/preload-X.Y.{json,md}.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-20}"
mkdir -p "$here/bench/results"
for version in ${PYTHON_VERSIONS:-3.11 3.12 3.13}; do
    venv="$here/.venv/bench-$version"
    python="$("$here/scripts/find-python.sh" "$version")" || continue
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    workloads="boto3 numpy"
    packages="setuptools>=77 wheel boto3 numpy"
    if [ "$version" = 3.11 ]; then
        workloads="$workloads torch"
        packages="$packages torch==2.13.0"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check $packages
    (cd / && "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --no-build-isolation --force-reinstall --no-deps "$here")
    (cd / && "$venv/bin/python" "$here/bench/preload.py" --runs "$runs" \
        --json "$here/bench/results/preload-$version.json" $workloads)
done
