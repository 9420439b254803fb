"""Whole-process start-up: plain CPython against pycds SHARE, side by side.

For each workload: trace a run, dump the archive, then time plain and SHARE
runs alternating (so machine noise hits both alike) and report medians, the
ratio per pair (median, min, max) and the geometric mean of the ratios.

    python bench/startup.py [--python PATH] [--pairs N] [WORKLOAD ...]

WORKLOAD is a module name (`import X` is timed), `demo` (the bundled
example program) or `pth` (an empty program with and without pycds.pth
installed and PYCDSMODE unset: the cost of having pycds installed).
Run it with the interpreter of a virtual environment that has pycds and the
packages installed: base interpreters' .pth files add noise.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    workload: str
    plain_ms: float
    shared_ms: float
    ratios: list[float]
    modules: int = 0
    archive_bytes: int = 0

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def row(self) -> str:
        return (f"| {self.workload} | {self.plain_ms:.1f} | {self.shared_ms:.1f} | "
                f"{self.ratio:.2f} | {min(self.ratios):.2f} | {max(self.ratios):.2f} | "
                f"{self.modules} | {self.archive_bytes / 1e6:.1f} |")


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYCDS") and k != "PYTHONSAFEPATH"}


# Run away from the source tree, whose pycds/ has no built extension.
NEUTRAL_CWD = tempfile.gettempdir()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=NEUTRAL_CWD)
    return (time.perf_counter() - start) * 1000


def alternate(a: list[str], env_a: dict[str, str], b: list[str],
              env_b: dict[str, str], pairs: int) -> tuple[list[float], list[float]]:
    times_a, times_b = [], []
    timed(a, env_a), timed(b, env_b)  # warm the page cache
    for _ in range(pairs):
        times_a.append(timed(a, env_a))
        times_b.append(timed(b, env_b))
    return times_a, times_b


def workload_args(workload: str) -> list[str]:
    if workload == "demo":
        return [str(ROOT / "examples" / "stdlib_app.py")]
    return ["-c", f"import {workload}"]


def share_workload(python: str, workload: str, pairs: int, work: Path) -> Result:
    args = workload_args(workload)
    listing, archive = work / f"{workload}.lst", work / f"{workload}.img"
    env = base_env()
    subprocess.run([python, *args], env={**env, "PYCDSMODE": "TRACE",
                                         "PYCDSLIST": str(listing)},
                   check=True, stdout=subprocess.DEVNULL, cwd=NEUTRAL_CWD)
    dumped = subprocess.run([python, "-m", "pycds", "dump", "--list", str(listing),
                             "--archive", str(archive)], env=env, check=True,
                            capture_output=True, text=True, cwd=NEUTRAL_CWD).stdout
    modules = int(dumped.split()[1])
    shared_env = {**env, "PYCDSMODE": "SHARE", "PYCDSARCHIVE": str(archive)}
    plain, shared = alternate([python, *args], env, [python, *args], shared_env, pairs)
    return Result(workload, statistics.median(plain), statistics.median(shared),
                  [p / s for p, s in zip(plain, shared)], modules,
                  archive.stat().st_size)


def pth_workload(python: str, pairs: int, work: Path) -> Result:
    """Two fresh venvs with pycds copied in, one without pycds.pth."""
    site = subprocess.run([python, "-c", "import pycds, os; "
                           "print(os.path.dirname(os.path.dirname(pycds.__file__)))"],
                          env=base_env(), check=True, capture_output=True,
                          text=True, cwd=NEUTRAL_CWD).stdout.strip()
    pythons = []
    for name, with_pth in (("with", True), ("without", False)):
        venv = work / f"venv-{name}"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                       check=True)
        target = Path(subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True).stdout.strip())
        shutil.copytree(Path(site) / "pycds", target / "pycds")
        if with_pth:
            shutil.copy(Path(site) / "pycds.pth", target / "pycds.pth")
        pythons.append(str(venv / "bin" / "python"))
    env = base_env()
    without, with_ = alternate([pythons[1], "-c", "pass"], env,
                               [pythons[0], "-c", "pass"], env, pairs)
    return Result("pth (unset mode)", statistics.median(without),
                  statistics.median(with_), [a / b for a, b in zip(without, with_)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("workloads", nargs="*", default=["demo", "pth"])
    args = parser.parse_args()
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    print(f"CPython {version}, {args.pairs} pairs per workload")
    print("| workload | plain ms | SHARE ms | ratio | min | max | modules | archive MB |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    with tempfile.TemporaryDirectory(prefix="pycds-bench-") as tmp:
        for workload in args.workloads:
            if workload == "pth":
                result = pth_workload(args.python, args.pairs, Path(tmp))
            else:
                result = share_workload(args.python, workload, args.pairs, Path(tmp))
            results.append(result)
            print(result.row(), flush=True)
    ratios = [r.ratio for r in results if r.workload != "pth (unset mode)"]
    if ratios:
        geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"geometric mean of median ratios (without pth): {geomean:.2f}")


if __name__ == "__main__":
    main()
