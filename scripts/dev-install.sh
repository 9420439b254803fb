#!/bin/sh
# Rebuild and reinstall pycds into the existing .venv/X.Y environments
# (default: all three), showing only compiler diagnostics.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
status=0
for v in ${*:-3.11 3.12 3.13}; do
    out="$(cd / && PYCDS_WERROR=1 "$here/.venv/$v/bin/python" -m pip install -q \
        --no-build-isolation --no-deps --force-reinstall "$here" 2>&1)" || {
        echo "== $v: build failed"
        echo "$out" | grep -E "error|warning|note" | grep -v -E "^ *(warning: build_py|gcc |error: command|error: Command|note: This error|error: subprocess)" | head -40
        status=1
    }
done
exit $status
