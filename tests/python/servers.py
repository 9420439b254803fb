"""Helpers for the preloaded-interpreter suites: start a real server,
run programs through the real client and through plain python with the
same environment, and make sure every process ends.

Every server a test starts listens in the test's own directory (--socket,
or a private XDG_RUNTIME_DIR for servers the client starts), and is
stopped, with a bounded wait, when the test ends.

A run through the client proves that the server ran the program: the
server's count of programs run (`programs run`, counted when a program's
process starts it) grows by one, which no client that runs python itself
can fake.  A run whose point is the fallback proves the opposite, and the
reason the client gives (PYCDSVERBOSE=1)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from conftest import clean_env

import pycds._cds as _cds
from pycds import _serve

PY = sys.executable
CLIENT = str(Path(sys.executable).parent / "pycds-run")
HERE = Path(__file__).parent / "run"
PROBE = HERE / "probe.py"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# The client's line when python runs the program (tools/pycds-run/plain.c).
PLAIN_LINE = b"pycds-run: plain python: "


def without_client_lines(stderr: bytes) -> bytes:
    """stderr without the client's own PYCDSVERBOSE lines."""
    return b"".join(line for line in stderr.splitlines(keepends=True)
                    if not line.startswith(b"pycds-run: "))


def status(socket_path: str) -> dict[str, str] | None:
    """A server's status lines as a dict, or None when nobody answers."""
    try:
        text = _cds.server_control(socket_path, False)
    except OSError:
        return None
    return _cds.status_fields(text)


alive = _serve.running


def stop_servers_in(directory: Path) -> None:
    """Stop every server listening in directory; kill any that is slow."""
    for pid in _serve.stop_all(directory, timeout=10):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not alive(pid), 5, f"server {pid} to die")


@dataclass
class Server:
    """A server started by the test with --socket, and the environment
    that its clients and the plain runs compared with them share."""

    root: Path
    socket: Path
    env: dict[str, str]
    process: subprocess.Popen
    log: Path
    extra: list[str] = field(default_factory=list)
    # The client the runs go through (a test may put a fake one here).
    client_program: str = CLIENT

    @property
    def pid(self) -> int:
        return self.process.pid

    def served(self) -> int:
        info = status(str(self.socket))
        assert info is not None, self.log.read_text()
        return int(info["programs run"])

    def check_served(self, before: int, programs: int, why: str = "") -> None:
        """The server ran exactly `programs` programs since its count was
        `before`.  A program's process counts itself as it starts, through
        a pipe the server reads when it gets to it: a status query may
        come first, so the count is waited for a little."""
        try:
            wait_for(lambda: self.served() >= before + programs, 5,
                     "the server's count")
        except AssertionError:
            pass
        after = self.served()
        assert after == before + programs, (
            f"the server ran {after - before} programs, not {programs}: "
            f"{why}\n{self.log.read_text()}")

    @contextmanager
    def serving(self, programs: int = 1):
        """Assert that the server runs exactly `programs` programs while
        the block runs."""
        before = self.served()
        yield
        self.check_served(before, programs)

    def client(self, args: list[str], *, cwd: Path | None = None,
               input: bytes | str | None = None, timeout: float = 60,
               env: dict[str, str] | None = None, served: bool = True,
               **kwargs) -> subprocess.CompletedProcess:
        """A run through the client; unless served=False (a run whose
        outcome the test checks itself), the server must have run it."""
        before = self.served() if served else 0
        done = subprocess.run([self.client_program, *args],
                              cwd=cwd or self.root, env=env or self.env,
                              input=input, capture_output=True,
                              timeout=timeout, **kwargs)
        if served:
            self.check_served(before, 1, f"stderr {done.stderr!r}")
        return done

    def refused(self, args: list[str], because: str, *,
                env: dict[str, str] | None = None,
                **kwargs) -> subprocess.CompletedProcess:
        """A run through the client that python must run itself, for a
        reason whose text holds `because`; stderr without the client's
        lines."""
        before = self.served()
        done = self.client(args, env=dict(env or self.env, PYCDSVERBOSE="1"),
                           served=False, **kwargs)
        assert self.served() == before, "the server ran it"
        reasons = [line[len(PLAIN_LINE):].decode(errors="replace")
                   for line in done.stderr.splitlines()
                   if line.startswith(PLAIN_LINE)]
        assert len(reasons) == 1 and because in reasons[0], (
            f"python ran it for {reasons}, not {because!r}")
        done.stderr = without_client_lines(done.stderr)
        return done

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        """The client started in the background (check with serving)."""
        kwargs.setdefault("env", self.env)
        return subprocess.Popen([self.client_program, *args], **kwargs)

    def plain(self, args: list[str], *, cwd: Path | None = None,
              input: bytes | str | None = None, timeout: float = 60,
              env: dict[str, str] | None = None,
              **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([PY, *args], cwd=cwd or self.root,
                              env=env or self.env, input=input,
                              capture_output=True, timeout=timeout, **kwargs)

    def both(self, args: list[str], **kwargs):
        """Run plainly and through the server; assert the server ran it."""
        served = self.client(args, **kwargs)
        return self.plain(args, **kwargs), served

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                _cds.server_control(str(self.socket), True)
            except OSError:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(root: Path, preload: str, *extra: str,
                 env: dict[str, str] | None = None,
                 pythonpath: Path | None = None) -> Server:
    """Start `python -m pycds serve` on root/server.sock and wait until it
    answers."""
    root.mkdir(parents=True, exist_ok=True)
    environment = dict(env or clean_env())
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    sock = root / "server.sock"
    environment["PYCDSSOCKET"] = str(sock)
    log = root / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [PY, "-m", "pycds", "serve", "--socket", str(sock), "--preload",
             preload, "--idle-timeout", "120", *extra],
            cwd=root, env=environment, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)
    server = Server(root, sock, environment, process, log, list(extra))
    try:
        wait_for(lambda: process.poll() is not None or status(str(sock)),
                 60, "the server to answer")
    except AssertionError:
        server.stop()
        raise
    if process.poll() is not None:
        raise AssertionError(f"the server exited:\n{log.read_text()}")
    return server


def masked(text: bytes) -> bytes:
    """Without what differs between any two runs of python: addresses
    (-v) and times (-X importtime)."""
    text = re.sub(rb"0x[0-9a-f]+", b"0x?", text)
    return re.sub(rb"import time: +\d+ \| +\d+ \|", b"import time: ?", text)


def same(plain: subprocess.CompletedProcess,
         served: subprocess.CompletedProcess) -> None:
    """The same exit status, output and error output (masked)."""
    assert (served.returncode, served.stdout, masked(served.stderr)) == \
        (plain.returncode, plain.stdout, masked(plain.stderr))


def programs_server(tmp_path_factory, name: str) -> Server:
    """A server preloading json and warm, over a copy of the test programs
    (tests/python/run): what the suites comparing programs share."""
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(HERE, root / "programs")
    return start_server(root / "programs", "json,warm",
                        pythonpath=root / "programs" / "lib")


def probe(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def comparable(state: dict) -> dict:
    """A probe's state without what differs by design between two
    processes: the report channel, the one descriptor a served program has
    beyond plain python's (close-on-exec, near the descriptor limit)."""
    state = dict(state)
    limit = int(state["limits"][str(7)][0])  # RLIMIT_NOFILE
    state["fds"] = [fd for fd in state["fds"] if not limit - 64 <= fd < limit]
    return state


def zombies_of(pid: int) -> list[int]:
    """The zombie children of pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found
