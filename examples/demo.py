"""`make demo`: run the bundled example plainly, from a pycds archive
(trace, dump, share), from an archive with snapshot units (dump --snapshot:
module bodies' objects restored instead of run), and through pycds-run (a
preloaded interpreter), and print the four timings side by side.

Each variant is a whole new process; the variants alternate so that
machine noise hits them alike, and medians are reported.  The example's
output must be the same every time.
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
CLIENT = str(Path(sys.executable).parent / "pycds-run")
# What the example imports: the server imports it once.
PRELOAD = ("argparse,asyncio,csv,dataclasses,datetime,decimal,email.message,"
           "email.parser,fractions,http.client,io,json,logging,pathlib,"
           "statistics,string,tarfile,textwrap,typing,unittest,urllib.parse,"
           "uuid,xml.etree.ElementTree,zipfile")


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYCDS")}


def run(command: list[str], env: dict[str, str], expected: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([*command, str(APP)], env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"demo: example failed:\n{done.stderr}")
    if done.stdout != expected:
        sys.exit(f"demo: {command[0]} printed something else")
    return elapsed


def main() -> None:
    print(f"pycds demo on Python {sys.version.split()[0]}: {APP.name}")
    expected = subprocess.run([sys.executable, str(APP)], env=base_env(),
                              capture_output=True, text=True,
                              check=True).stdout
    print(f"output: {expected.strip()}")

    with tempfile.TemporaryDirectory(prefix="pycds-demo-") as tmp:
        listing = Path(tmp) / "app.lst"
        archive = Path(tmp) / "app.img"
        snap_archive = Path(tmp) / "app-snapshot.img"
        trace = {**base_env(), "PYCDSMODE": "TRACE", "PYCDSLIST": str(listing)}
        share = {**base_env(), "PYCDSMODE": "SHARE",
                 "PYCDSARCHIVE": str(archive)}
        snapshot = {**base_env(), "PYCDSMODE": "SHARE",
                    "PYCDSARCHIVE": str(snap_archive)}
        served = {**base_env(), "XDG_RUNTIME_DIR": tmp,
                  "PYCDSPRELOAD": PRELOAD}

        run([sys.executable], trace, expected)
        dump = subprocess.run(
            [sys.executable, "-m", "pycds", "dump", "--list", str(listing),
             "--archive", str(archive)], capture_output=True, text=True)
        if dump.returncode != 0:
            sys.exit("demo: dump failed: " + dump.stderr.strip())
        print("dump: " + next(
            (line for line in dump.stdout.splitlines() if line.startswith("archived ")),
            dump.stdout.strip().splitlines()[-1]))
        # The same list again, with snapshot units.
        dump = subprocess.run(
            [sys.executable, "-m", "pycds", "dump", "--list", str(listing),
             "--archive", str(snap_archive), "--snapshot"],
            capture_output=True, text=True)
        if dump.returncode != 0:
            sys.exit("demo: dump --snapshot failed: " + dump.stderr.strip())
        print("dump --snapshot: " + next(
            (line for line in dump.stdout.splitlines()
             if line.startswith("snapshot: ") and " units of " in line),
            dump.stdout.strip().splitlines()[-1]))
        run([sys.executable], snapshot, expected)  # same output as plain
        # The first run through pycds-run starts the server (and here waits
        # for it, instead of running python itself meanwhile).
        run([CLIENT], {**served, "PYCDSWAIT": "1"}, expected)

        variants = {"plain": ([sys.executable], base_env()),
                    "SHARE": ([sys.executable], share),
                    "snapshot": ([sys.executable], snapshot),
                    "pycds-run": ([CLIENT], served)}
        times: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for _ in range(RUNS):
                for name, (command, env) in variants.items():
                    times[name].append(run(command, env, expected))
        finally:
            from pycds import _serve

            _serve.stop_all(Path(tmp) / "pycds")
        plain = statistics.median(times["plain"])
        for name in variants:
            median = statistics.median(times[name])
            print(f"{name:10}: median {median * 1000:7.1f} ms over {RUNS} "
                  f"runs, {plain / median:5.2f}x")


if __name__ == "__main__":
    main()
