"""Real packages with snapshot units (--snapshot-all, so that every unit a
fresh process restores is kept): the same small use of each prints what
plain Python prints, with most of the package's modules restored from
their units rather than run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import run
from test_packages import SMOKE

USES = dict(SMOKE)
USES["boto3"] = SMOKE["boto3"] + """
s3r = session.resource("s3")
print(type(s3r).__name__, s3r.meta.client.meta.region_name, s3r.Bucket("b").name)
"""


@pytest.mark.parametrize("package", sorted(USES))
def test_package_restored_with_same_output(package: str, tmp_path: Path) -> None:
    pytest.importorskip(package)
    script = tmp_path / "use.py"
    script.write_text(USES[package])
    listing, archive = tmp_path / "use.lst", tmp_path / "use.img"
    run([str(script)], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    dumped = run(["-m", "pycds", "dump", "--list", str(listing), "--archive",
                  str(archive), "--snapshot", "--snapshot-all"], cwd=tmp_path).stdout
    written = int(re.search(r"^snapshot: (\d+) units", dumped, re.M).group(1))
    plain = run([str(script)], cwd=tmp_path)
    shared = run([str(script)], cwd=tmp_path, PYCDSMODE="SHARE",
                 PYCDSARCHIVE=str(archive), PYCDSVERBOSE="1")
    assert shared.stdout == plain.stdout and plain.stdout.strip()
    restored = re.findall(r"^pycds: snapshot: (\S+): restored$", shared.stderr, re.M)
    # The package's own modules among them, and most of what was written.
    assert any(name.split(".")[0] == package for name in restored), shared.stderr
    assert len(restored) >= 0.8 * written, (written, restored, shared.stderr)
