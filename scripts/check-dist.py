"""make test-dist: prove that what `make dist` put in dist/ installs and works.

For each wheel, and for the sdist built alone on each CPython: a fresh
virtual environment with nothing but pycds, run from an empty directory
(no source tree on sys.path), must give `python -m pycds --version`, run
the bundled example plainly, traced, from the archive it dumps, and through
pycds-run (a server it starts), with the same output each time.  The sdist
must hold what the build reads and nothing else.

Run by scripts/test-dist.sh with the dist tools' python; every process it
starts has a time limit, and every server it starts is stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from email.parser import Parser
from glob import glob
from pathlib import Path

from packaging.specifiers import SpecifierSet
from trove_classifiers import classifiers as known_classifiers

TREE = Path(__file__).resolve().parent.parent
DIST = TREE / "dist"
EXAMPLE = TREE / "examples" / "stdlib_app.py"
VERSIONS = os.environ.get("PYTHON_VERSIONS", "3.11 3.12 3.13").split()
WHEEL_NAME = re.compile(
    r"pycds-(?P<version>[^-]+)-cp(?P<py>\d+)-cp\d+-(?P<platform>[^.]+)\.whl")
TIMEOUT = 300


class CheckFailed(Exception):
    pass


def sh(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
       check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if check and done.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, args))} exited "
                          f"{done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


# ------------------------------------------------------------ the sdist

def files_the_build_reads() -> set[str]:
    """What building from the sdist needs, from the tree: setup.py's and
    MANIFEST.in's sources, the package, the metadata and its files."""
    patterns = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
                "LICENSE", "pycds.pth", "pycds/*.py", "pycds/ext/*.[ch]",
                "libcds/include/cds/*.h", "libcds/src/*.[ch]",
                "librun/include/run/*.h", "librun/src/*.[ch]",
                "libos/include/os/*.h", "libos/src/*.[ch]",
                "tools/pycds-run/*.[ch]", "examples/stdlib_app.py"]
    tracked = set(sh(["git", "ls-files"], TREE).stdout.split())
    return {str(Path(p).relative_to(TREE)) for pattern in patterns
            for p in glob(str(TREE / pattern))
            if str(Path(p).relative_to(TREE)) in tracked}


def check_sdist_contents(sdist: Path, version: str) -> None:
    with tarfile.open(sdist) as archive:
        members = {m.name for m in archive.getmembers() if m.isfile()}
    top = f"pycds-{version}/"
    expect(all(name.startswith(top) for name in members),
           f"{sdist.name}: a file outside {top}")
    inside = {name[len(top):] for name in members}
    # What setuptools writes itself: the metadata and the egg-info.
    generated = {"PKG-INFO", "setup.cfg"} | {
        name for name in inside if name.startswith("pycds.egg-info/")}
    missing = files_the_build_reads() - inside
    extra = inside - files_the_build_reads() - generated
    expect(not missing, f"{sdist.name} lacks {sorted(missing)}")
    expect(not extra, f"{sdist.name} holds what does not belong: "
                      f"{sorted(extra)}")
    print(f"   {sdist.name}: {len(inside)} files, none missing, none extra")


def check_metadata(sdist: Path, version: str) -> None:
    """What PyPI shows and checks: every classifier one it knows, the
    licence, the README as the description, the supported versions."""
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"pycds-{version}/PKG-INFO")
        assert member is not None
        metadata = Parser().parsestr(member.read().decode())
    unknown = set(metadata.get_all("Classifier") or []) - known_classifiers
    expect(not unknown, f"classifiers PyPI does not know: {sorted(unknown)}")
    expect(metadata["Version"] == version, f"PKG-INFO says {metadata['Version']}")
    expect(metadata["License-Expression"] == "MIT", "no SPDX licence")
    expect(metadata["Description-Content-Type"] == "text/markdown" and
           metadata.get_payload().startswith("# pycds"),
           "the README is not the long description")
    supported = SpecifierSet(metadata["Requires-Python"])
    expect([v for v in ("3.10", "3.11", "3.12", "3.13", "3.14")
            if v in supported] == ["3.11", "3.12", "3.13"],
           f"Requires-Python is {supported}")
    print(f"   {len(metadata.get_all('Classifier'))} classifiers, MIT, "
          "README as description")


# ------------------------------------------------------- an installation

def clean_env(**extra: str) -> dict[str, str]:
    """The environment without pycds's or Python's own variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYCDS", "PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def fresh_venv(python_version: str, where: Path) -> Path:
    base = sh([TREE / "scripts" / "find-python.sh", python_version],
              TREE).stdout.strip()
    sh([base, "-m", "venv", where], where.parent)
    return where / "bin" / "python"


def stop_servers(python: Path, run_dir: Path, env: dict[str, str]) -> None:
    """Stop the servers under run_dir, then wait (bounded) until none is."""
    sh([python, "-m", "pycds", "serve", "--stop"], run_dir, env, check=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = sh([python, "-m", "pycds", "serve", "--status"], run_dir, env,
                   check=False)
        if "no servers running" in shown.stdout:
            return
        time.sleep(0.1)
    raise CheckFailed(f"a server under {env['XDG_RUNTIME_DIR']} did not stop")


def check_installed(python: Path, version: str, work: Path) -> None:
    venv = python.parent.parent
    run_dir = work / "run"
    run_dir.mkdir()
    shutil.copy(EXAMPLE, run_dir / "app.py")
    runtime = work / "xdg"
    runtime.mkdir(mode=0o700)
    env = clean_env(XDG_RUNTIME_DIR=str(runtime))

    where = sh([python, "-c", "import pycds, sys, sysconfig; "
                "print(pycds.__file__); print(sysconfig.get_path('purelib'));"
                "print(*sys.path, sep='\\n')"], run_dir, env).stdout.split("\n")
    package, purelib, path = where[0], where[1], where[2:]
    expect(package.startswith(str(venv) + "/"),
           f"pycds imported from {package}, not from {venv}")
    expect(not any(p.startswith(str(TREE)) for p in path),
           f"the source tree is on sys.path: {path}")
    hook = Path(purelib) / "pycds.pth"
    expect(hook.is_file(), f"no {hook}")
    expect(hook.read_text().strip().startswith(
        'import os; os.environ.get("PYCDSMODE")'), f"{hook} is not the hook")
    client = venv / "bin" / "pycds-run"
    expect(client.is_file() and os.access(client, os.X_OK),
           f"{client} is missing or not executable")
    expect(client.read_bytes()[:4] == b"\x7fELF", f"{client} is not an ELF")

    shown = sh([python, "-m", "pycds", "--version"], run_dir, env).stdout
    expect(shown == f"pycds {version}\n",
           f"--version says {shown!r}, the distribution is {version}")

    app = ["app.py", "--rows", "7"]
    plain = sh([python, *app], run_dir, env).stdout
    expect(plain.startswith("{") and '"rows": 7' in plain,
           f"the example printed {plain!r}")
    traced = sh([python, *app], run_dir, clean_env(
        PYCDSMODE="TRACE", PYCDSLIST="app.lst")).stdout
    expect(traced == plain, "traced output differs from plain")
    sh([python, "-m", "pycds", "dump", "--list", "app.lst",
        "--archive", "app.img"], run_dir, env)
    shared = sh([python, *app], run_dir, clean_env(
        PYCDSMODE="SHARE", PYCDSARCHIVE="app.img", PYCDSVERBOSE="1"))
    expect(shared.stdout == plain, "output from the archive differs")
    hits = [line for line in shared.stderr.splitlines()
            if line.startswith("pycds: hit ")]
    expect("pycds: archive mapped" in shared.stderr and len(hits) >= 50,
           f"the archive was not used ({len(hits)} hits):\n{shared.stderr}")

    # pycds-run starts the server (PYCDSWAIT: and waits to be served).
    try:
        served = sh([client, "--preload", "json", *app], run_dir,
                    clean_env(XDG_RUNTIME_DIR=str(runtime), PYCDSWAIT="1"))
        expect(served.stdout == plain, "pycds-run's output differs")
        status = sh([python, "-m", "pycds", "serve", "--status"], run_dir,
                    env).stdout
        expect("programs run: 1\n" in status,
               f"pycds-run's program was not served:\n{status}")
        expect(f"pycds: {version}\n" in status,
               f"the server does not name pycds {version}:\n{status}")
    finally:
        stop_servers(python, run_dir, env)
    print(f"   --version, plain = TRACE = SHARE ({len(hits)} modules from "
          f"the archive) = pycds-run (served)")


def check_wheel(wheel: Path, work: Path) -> None:
    name = WHEEL_NAME.fullmatch(wheel.name)
    expect(name is not None, f"{wheel.name}: not a pycds wheel name")
    py = name["py"]
    expect(re.fullmatch(r"manylinux_\d+_\d+_x86_64", name["platform"])
           is not None, f"{wheel.name}: not a manylinux tag")
    python_version = f"{py[0]}.{py[1:]}"
    python = fresh_venv(python_version, work / "venv")
    sh([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "--no-index", "--no-deps", wheel], work, clean_env())
    packages = sh([python, "-m", "pip", "list", "--format=freeze",
                   "--disable-pip-version-check"], work, clean_env()).stdout
    names = sorted(line.split("==")[0].lower() for line in packages.split())
    expect(names in (["pip", "pycds"], ["pip", "pycds", "setuptools"]),
           f"the venv holds more than the wheel: {names}")
    check_installed(python, name["version"], work)


def check_sdist_builds(sdist: Path, version: str, python_version: str,
                       work: Path) -> None:
    """pip builds the unpacked sdist, in an empty directory, alone."""
    source = work / "source"
    source.mkdir()
    with tarfile.open(sdist) as archive:
        archive.extractall(source, filter="data")
    python = fresh_venv(python_version, work / "venv")
    sh([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "--no-deps", source / f"pycds-{version}"], work, clean_env())
    check_installed(python, version, work)


def main() -> int:
    sdists = sorted(DIST.glob("pycds-*.tar.gz"))
    wheels = sorted(DIST.glob("pycds-*.whl"))
    try:
        expect(len(sdists) == 1, f"{DIST}: {len(sdists)} sdists, not one "
                                 "(run make dist)")
        version = sdists[0].name[len("pycds-"):-len(".tar.gz")]
        tags = sorted(f"{v[0]}.{v[1:]}" for w in wheels
                      if (m := WHEEL_NAME.fullmatch(w.name))
                      for v in [m["py"]])
        expect(tags == sorted(VERSIONS),
               f"{DIST}: wheels for {tags}, expected {VERSIONS}")
    except CheckFailed as error:
        print(f"check-dist: {error}", file=sys.stderr)
        return 1
    checks = [("sdist contents", lambda work: check_sdist_contents(
        sdists[0], version))]
    checks += [("metadata", lambda work: check_metadata(sdists[0], version))]
    checks += [(wheel.name, lambda work, wheel=wheel: check_wheel(
        wheel, work)) for wheel in wheels]
    checks += [(f"{sdists[0].name} built alone on CPython {v}",
                lambda work, v=v: check_sdist_builds(sdists[0], version, v,
                                                     work))
               for v in VERSIONS]
    failed = 0
    for label, check in checks:
        print(f"== {label}", flush=True)
        with tempfile.TemporaryDirectory(prefix="pycds-dist-") as work:
            try:
                check(Path(work))
            except (CheckFailed, subprocess.TimeoutExpired) as error:
                print(f"   FAILED: {error}", flush=True)
                failed += 1
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
