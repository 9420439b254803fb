#!/bin/sh
# Print the path of a CPython X.Y interpreter: $PYTHON_X_Y if set (dots as
# underscores, e.g. PYTHON_3_12), else pythonX.Y on PATH, else pyenv's copy.
set -eu
version="$1"
var="PYTHON_$(echo "$version" | tr . _)"
eval "explicit=\${$var:-}"
if [ -n "$explicit" ]; then echo "$explicit"; exit 0; fi
root="${PYENV_ROOT:-$HOME/.pyenv}"
for candidate in "$root"/versions/"$version".*/bin/python"$version"; do
    if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if command -v "python$version" >/dev/null 2>&1 &&
   "python$version" -c 'import sys' >/dev/null 2>&1; then
    command -v "python$version"; exit 0
fi
echo "find-python: no CPython $version found (set $var)" >&2
exit 1
