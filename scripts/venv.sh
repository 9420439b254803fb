#!/bin/sh
# Create (or refresh) .venv/X.Y with pytest and pycds installed from this tree.
# The base interpreters' site-packages carry .pth files that slow every start,
# so tests and benchmarks run in these environments instead.
set -eu
version="$1"
shift
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/.venv/$version"
python="$("$here/scripts/find-python.sh" "$version")"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "setuptools>=77" wheel -r "$here/tests/requirements.txt" "$@"
PYCDS_WERROR=1 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps "$here"
