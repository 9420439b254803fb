"""Preloaded interpreters against plain CPython, side by side in one run.

Times from a program's start to its exit, whole processes, for:

  floors    /bin/true, python -c pass, and pycds-run -c pass when no
            server can be reached (python runs it) and on first use (the
            client starts a server in the background and runs python)
  each workload W (a script `import W; print(W.__version__)`):
            plain python, python with PYCDSMODE=SHARE (an archive traced
            and dumped first), pycds-run (a server forked per program,
            started by the client itself on first use, found by its key),
            a launcher (`python -m pycds bundle --preload W`: the same
            server), pycds-run with a pool (`serve --pool 2`, PYCDSSOCKET)

Runs alternate across the variants (so machine noise hits them alike);
medians and ratios are reported: against `python -c pass` (the floor a
drop-in for python is measured by) and against plain.  Beside the times:
the minor faults of a program's process, and PSS per program with 8
programs alive at once (plain: the python process; pycds-run: the
program's process plus its client), with the server's own PSS.

    python bench/preload.py [--runs N] [--json FILE] [WORKLOAD ...]

Run it with a virtual environment's interpreter that has pycds and the
workloads installed (`make bench-preload` makes them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = 8
PY = sys.executable
CLIENT = str(Path(sys.executable).parent / "pycds-run")


def base_env(runtime: Path) -> dict[str, str]:
    """A plain user's environment: no PYTHON* or PYCDS* settings."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "TERM", "USER")}
    env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def script_for(workload: str, work: Path) -> Path:
    path = work / f"{workload.replace('.', '_')}_script.py"
    path.write_text(f"import {workload}\nprint({workload}.__version__)\n")
    return path


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{done.stderr.decode()}")
    return elapsed


@dataclass
class Variant:
    name: str
    cmd: list[str]
    env: dict[str, str]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def alternate(variants: list[Variant], runs: int, cwd: Path) -> None:
    for variant in variants:  # warm caches (and start servers)
        timed(variant.cmd, variant.env, cwd)
    for i in range(runs):
        # Rotate the order, so that no variant always follows another.
        for k in range(len(variants)):
            variant = variants[(i + k) % len(variants)]
            variant.times.append(timed(variant.cmd, variant.env, cwd))


def faults(cmd: list[str], env: dict[str, str], cwd: Path,
           code: str) -> int:
    """Minor faults of the program's own process, read by itself at the
    end (for pycds-run: the forked process, not the client)."""
    probe = (code + "\nimport resource, sys\n"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt, "
             "file=sys.stderr)\n")
    values = []
    for _ in range(5):
        done = subprocess.run([*cmd, "-c", probe], env=env, cwd=cwd,
                              capture_output=True, text=True, check=True)
        values.append(int(done.stderr.strip().splitlines()[-1]))
    return int(statistics.median(values))


def pss_kib(pid: int) -> int:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))


def memory(cmd: list[str], env: dict[str, str], cwd: Path,
           code: str) -> float:
    """PSS (KiB) per program, PROGRAMS of them alive at once: the
    program's own process, plus the client's when there is one."""
    waiter = (code + "\nimport os, sys\nprint(os.getpid(), flush=True)\n"
              "sys.stdin.read()\n")
    procs = [subprocess.Popen([*cmd, "-c", waiter], env=env, cwd=cwd,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
             for _ in range(PROGRAMS)]
    try:
        totals = []
        pids = []
        for p in procs:
            assert p.stdout is not None
            lines = []
            while True:  # the workload may print first
                line = p.stdout.readline()
                lines.append(line)
                if line.strip().isdigit() or not line:
                    break
            pids.append(int(lines[-1]))
        time.sleep(0.2)
        for p, pid in zip(procs, pids):
            total = pss_kib(pid)
            if pid != p.pid:
                total += pss_kib(p.pid)  # the client
            totals.append(total)
        return statistics.mean(totals)
    finally:
        for p in procs:
            p.communicate("")


def start_pool_server(preload: str, env: dict[str, str],
                      work: Path) -> tuple[subprocess.Popen, Path]:
    sock = work / f"pool-{preload}.sock"
    log = open(work / f"pool-{preload}.log", "wb")
    server = subprocess.Popen(
        [PY, "-m", "pycds", "serve", "--preload", preload, "--pool", "2",
         "--socket", str(sock)], env=env, cwd=work, stdout=log,
        stderr=subprocess.STDOUT)
    from pycds import _cds

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            text = _cds.server_control(str(sock), False)
            if _cds.status_fields(text).get("pool idle") == "2 of 2":
                return server, sock
        except OSError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    sys.exit(f"bench: the pool server did not start:\n"
             f"{(work / f'pool-{preload}.log').read_text()}")


def programs_run(sock: Path | None) -> int:
    from pycds import _cds

    if sock is None:
        return 0
    text = _cds.server_control(str(sock), False)
    return int(_cds.status_fields(text)["programs run"])


def server_pss(sock: Path) -> int:
    from pycds import _cds

    text = _cds.server_control(str(sock), False)
    return pss_kib(int(_cds.status_fields(text)["pid"]))


def stop(sock: Path) -> None:
    from pycds import _cds

    try:
        _cds.server_control(str(sock), True)
    except OSError:
        pass


def keyed_socket(runtime: Path) -> Path | None:
    sockets = sorted((runtime / "pycds").glob("*.sock"),
                     key=lambda p: p.stat().st_mtime)
    return sockets[-1] if sockets else None


def workload(name: str, runs: int, work: Path, runtime: Path,
             floors: list[Variant]) -> dict:
    env = base_env(runtime)
    script = script_for(name, work)
    code = f"import {name}"
    listing, archive = work / f"{name}.lst", work / f"{name}.img"
    subprocess.run([PY, str(script)], env={**env, "PYCDSMODE": "TRACE",
                                           "PYCDSLIST": str(listing)},
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, "-m", "pycds", "dump", "--list", str(listing),
                    "--archive", str(archive)], env=env, cwd=work,
                   check=True, stdout=subprocess.DEVNULL)
    share_env = {**env, "PYCDSMODE": "SHARE", "PYCDSARCHIVE": str(archive)}
    # numpy's OpenBLAS starts its threads when imported (and starts them
    # again in a forked child, by its own fork handlers).
    served_env = {**env, "PYCDSALLOWTHREADS": "1"}
    keyed_env = {**served_env, "PYCDSPRELOAD": name}
    # The first program starts the server and waits for it.
    subprocess.run([CLIENT, str(script)], env={**keyed_env, "PYCDSWAIT": "1"},
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    launcher = work / f"python-{name}"
    subprocess.run([PY, "-m", "pycds", "bundle", "--preload", name, "-o",
                    str(launcher)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    pool_server, pool_sock = start_pool_server(name, served_env, work)
    pool_env = {**served_env, "PYCDSSOCKET": str(pool_sock)}
    try:
        variants = [Variant("plain", [PY, str(script)], env),
                    Variant("SHARE", [PY, str(script)], share_env),
                    Variant("pycds-run", [CLIENT, str(script)], keyed_env),
                    Variant("launcher", [str(launcher), str(script)],
                            served_env),
                    Variant("pycds-run pool", [CLIENT, str(script)],
                            pool_env)]
        alternate(floors + variants, runs, work)
        # Every pycds-run variant's program ran in a server, none plainly
        # (the keyed server serves pycds-run's and the launcher's).
        for sock, expected in ((keyed_socket(runtime), 2 * runs),
                               (pool_sock, runs)):
            if programs_run(sock) < expected:
                sys.exit(f"bench: {sock} ran {programs_run(sock)} programs "
                         f"of {expected}: the client ran python itself")
        result = {v.name: {"median_ms": v.median, "times_ms": v.times}
                  for v in variants}
        result["faults"] = {
            "plain": faults([PY], env, work, code),
            "pycds-run": faults([CLIENT], keyed_env, work, code),
            "pycds-run pool": faults([CLIENT], pool_env, work, code)}
        result["pss_kib"] = {
            "plain": memory([PY], env, work, code),
            "pycds-run": memory([CLIENT], keyed_env, work, code),
            "pycds-run pool": memory([CLIENT], pool_env, work, code)}
        keyed = keyed_socket(runtime)
        result["pss_kib"]["server"] = server_pss(keyed) if keyed else 0
    finally:
        stop(pool_sock)
        keyed = keyed_socket(runtime)
        if keyed:
            stop(keyed)
        pool_server.wait(timeout=60)
    return result


def first_use(work: Path, runs: int = 10) -> dict:
    """pycds-run -c pass where no server runs yet: it starts one in the
    background and runs python; each run with a directory of its own."""
    times = []
    for i in range(runs):
        runtime = Path(tempfile.mkdtemp(prefix="pycds-fu-"))
        env = {**base_env(runtime), "PYCDSPRELOAD": "json"}
        times.append(timed([CLIENT, "-c", "pass"], env, work))
        from pycds import _serve

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not keyed_socket(runtime):
            time.sleep(0.05)
        _serve.stop_all(runtime / "pycds")
        shutil.rmtree(runtime, ignore_errors=True)
    return {"median_ms": statistics.median(times), "times_ms": times}


def report(results: dict) -> str:
    floor = results["floors"]["python -c pass"]["median_ms"]
    true = results["floors"]["/bin/true"]["median_ms"]
    none = results["floors"]["pycds-run -c pass, no server"]["median_ms"]
    first = results["floors"]["pycds-run -c pass, first use"]["median_ms"]
    lines = [f"CPython {results['python']}, {results['runs']} runs of each, "
             f"alternating; medians.",
             f"floors: /bin/true {true:.2f} ms, python -c pass {floor:.2f} ms",
             f"pycds-run -c pass when no server can be reached "
             f"{none:.2f} ms, on first use (starting one) {first:.2f} ms",
             "",
             "| workload | variant | ms | x `python -c pass` | plain / variant "
             "| faults | PSS MiB per program |",
             "|---|---|---|---|---|---|---|"]
    for name, w in results["workloads"].items():
        plain = w["plain"]["median_ms"]
        for variant in ("plain", "SHARE", "pycds-run", "launcher",
                        "pycds-run pool"):
            ms = w[variant]["median_ms"]
            fault = w["faults"].get(variant, "")
            pss = w["pss_kib"].get(variant)
            lines.append(
                f"| {name} | {variant} | {ms:.2f} | {ms / floor:.2f} | "
                f"{plain / ms:.1f}x | {fault} | "
                f"{'' if pss is None else f'{pss / 1024:.1f}'} |")
        lines.append(f"| {name} | (server) | | | | | "
                     f"{w['pss_kib']['server'] / 1024:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("workloads", nargs="*", default=["boto3", "numpy"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pycds-bench-"))
    runtime = Path(tempfile.mkdtemp(prefix="pycds-rt-"))
    try:
        env = base_env(runtime)
        floors = [Variant("/bin/true", ["/bin/true"], env),
                  Variant("python -c pass", [PY, "-c", "pass"], env),
                  Variant("pycds-run -c pass, no server",
                          [CLIENT, "-c", "pass"],
                          {**env, "PYCDSSOCKET": str(work / "none.sock")})]
        results = {"python": sys.version.split()[0], "runs": args.runs,
                   "workloads": {}}
        for name in args.workloads:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            results["workloads"][name] = workload(name, args.runs, work,
                                                  runtime, floors)
        results["floors"] = {v.name: {"median_ms": v.median,
                                      "times_ms": v.times} for v in floors}
        results["floors"]["pycds-run -c pass, first use"] = first_use(work)
        text = report(results)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
            args.json.with_suffix(".md").write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    main()
