#!/bin/sh
# The whole-process benchmark on every CPython: a benchmark venv per version
# (.venv/bench-X.Y) with pycds and each listed package that installs there,
# then bench/startup.py, then the report (bench/results/startup.md, .png).
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
pairs="${PAIRS:-20}"
mkdir -p "$here/bench/results"
versions="${PYTHON_VERSIONS:-3.11 3.12 3.13}"
for version in $versions; do
    venv="$here/.venv/bench-$version"
    python="$("$here/scripts/find-python.sh" "$version")" || continue
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        "setuptools>=77" wheel matplotlib
    (cd / && "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --no-build-isolation --force-reinstall --no-deps "$here")
    workloads=""
    while read -r package module; do
        case "$package" in ''|'#'*) continue ;; esac
        if "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            "$package" >/dev/null 2>&1; then
            workloads="$workloads $module"
        else
            echo "bench: $package does not install on $version; left out"
        fi
    done < "$here/bench/packages.txt"
    "$venv/bin/python" "$here/bench/startup.py" --pairs "$pairs" \
        ${INSTRUCTIONS:+--instructions "$INSTRUCTIONS"} \
        --json "$here/bench/results/startup-$version.json" $workloads demo json@big pth
done
"$here/.venv/bench-${versions%% *}/bin/python" "$here/bench/report.py" \
    "$here"/bench/results/startup-*.json
