"""`make demo`: run the bundled example plainly, then trace, dump and share
it with pycds, and print both timings side by side.

Each variant is a whole new process; plain and shared runs alternate so that
machine noise hits both alike, and medians are reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "stdlib_app.py"
RUNS = 15


def run(env_extra: dict[str, str], check_output: str | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCDS")}
    env.update(env_extra)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(APP)], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"demo: example failed:\n{done.stderr}")
    if check_output is not None and done.stdout != check_output:
        sys.exit("demo: output differs from the plain run")
    return elapsed


def main() -> None:
    print(f"pycds demo on Python {sys.version.split()[0]}: {APP.name}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCDS")}
    expected = subprocess.run([sys.executable, str(APP)], env=env,
                              capture_output=True, text=True,
                              check=True).stdout
    print(f"output: {expected.strip()}")

    with tempfile.TemporaryDirectory(prefix="pycds-demo-") as tmp:
        listing = Path(tmp) / "app.lst"
        archive = Path(tmp) / "app.img"
        trace = {"PYCDSMODE": "TRACE", "PYCDSLIST": str(listing)}
        share = {"PYCDSMODE": "SHARE", "PYCDSARCHIVE": str(archive)}

        run(trace, expected)
        dump = subprocess.run(
            [sys.executable, "-m", "pycds", "dump", "--list", str(listing),
             "--archive", str(archive)],
            capture_output=True, text=True)
        sharing = dump.returncode == 0
        print(("dump: " + dump.stdout.strip().splitlines()[-1]) if sharing
              else "dump: " + (dump.stderr.strip() or "failed"))

        plain_times, shared_times = [], []
        for _ in range(RUNS):
            plain_times.append(run({}, expected))
            if sharing:
                shared_times.append(run(share, expected))
        plain = statistics.median(plain_times)
        print(f"plain : median {plain * 1000:7.1f} ms over {RUNS} runs")
        if sharing:
            shared = statistics.median(shared_times)
            print(f"shared: median {shared * 1000:7.1f} ms over {RUNS} runs")
            print(f"ratio plain/shared: {plain / shared:.2f}x")
        else:
            print("shared: sharing is not available yet in this build")


if __name__ == "__main__":
    main()
