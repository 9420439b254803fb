"""pycds-run on a real terminal (a PTY from pty.openpty, run as the
foreground job of a small job-control shell): the program sees the
terminal as python would, Ctrl-C interrupts it, Ctrl-Z stops program and
client and `fg` continues both, and the REPL reads lines until EOF."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import clean_env
from servers import HERE, PY, Server, comparable, start_server

JOBSHELL = HERE / "jobshell.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    root = tmp_path_factory.mktemp("terminal")
    shutil.copytree(HERE, root / "programs")
    # Standard output line-buffered on a terminal, as python makes it
    # when nothing asks for unbuffered streams.
    env = {k: v for k, v in clean_env().items() if k != "PYTHONUNBUFFERED"}
    server = start_server(root / "programs", "json", env=env)
    yield server
    server.stop()


@dataclass
class Session:
    """A command running as the foreground job on a fresh terminal."""

    process: subprocess.Popen
    master: int
    report: int
    output: bytes = b""
    seen: int = 0
    events: str = ""

    def read_until(self, text: bytes, timeout: float = 20) -> bytes:
        """Read until text appears in what came after the last call."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} in {self.output!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    raise AssertionError(f"terminal closed before {text!r}: "
                                         f"{self.output!r}")
        self.seen = self.output.index(text, self.seen) + len(text)
        return self.output

    def event(self, prefix: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.events.splitlines():
                if line.startswith(prefix):
                    self.events = self.events.replace(line + "\n", "", 1)
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {prefix} event in {self.events!r}")
            ready, _, _ = select.select([self.report], [], [], left)
            if ready:
                chunk = os.read(self.report, 4096).decode()
                if not chunk:
                    raise AssertionError(f"no {prefix} event: {self.events!r}")
                self.events += chunk

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self) -> int:
        status = int(self.event("EXIT").split()[1])
        self.process.wait(timeout=20)
        # Drain what is left on the terminal.
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)
        os.close(self.report)


def on_terminal(command: list[str], server: Server,
                cwd: Path | None = None,
                env: dict[str, str] | None = None) -> Session:
    master, slave = os.openpty()
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [PY, str(JOBSHELL), str(write_end), *command], stdin=slave,
        stdout=slave, stderr=slave, pass_fds=(write_end,),
        start_new_session=True, env=dict(env or server.env, TERM="xterm"),
        cwd=cwd or server.root)
    os.close(slave)
    os.close(write_end)
    return Session(process, master, read_end)


def run_on_terminal(command: list[str], server: Server, steps,
                    env: dict[str, str] | None = None) -> tuple:
    session = on_terminal(command, server, env=env)
    try:
        session.event("STARTED")
        steps(session)
        status = session.finish()
        return status, session.output.replace(b"\r\n", b"\n")
    finally:
        session.close()


def both_on_terminal(server: Server, args: list[str], steps,
                     env: dict[str, str] | None = None) -> tuple:
    before = server.served()
    served = run_on_terminal([server.client_program, *args], server, steps,
                             env)
    server.check_served(before, 1, "not served")
    plain = run_on_terminal([PY, *args], server, steps, env)
    return plain, served


def test_terminal_state_matches_python(server: Server) -> None:
    def nothing(session: Session) -> None:
        pass

    plain, served = both_on_terminal(server, [str(server.root / "probe.py")],
                                     nothing)
    assert plain[0] == served[0] == 0
    a, b = (json.loads(out[1].strip().splitlines()[-1])
            for out in (plain, served))
    assert b["isatty"] == [True, True, True]
    assert b["streams"][1]["line_buffering"] is True
    assert comparable(b) == comparable(a)


# Programs that wait for a Ctrl-C sleep in short steps: a signal that
# lands after the interpreter's last check for signals and before the
# sleep starts is handled only at the next check, in plain python too
# (seen on a loaded machine: one sleep of 30 s never ended early).
WAIT = "    for _ in range(600):\n        time.sleep(0.05)\n"

CATCHER = ("import time\ntry:\n    print('ready', flush=True)\n" + WAIT +
           "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")


def test_ctrl_c_raises_keyboard_interrupt(server: Server) -> None:
    def interrupt(session: Session) -> None:
        session.read_until(b"ready")
        session.type(b"\x03")
        session.read_until(b"interrupted")

    plain, served = both_on_terminal(server, ["-c", CATCHER], interrupt)
    assert served == plain
    assert served[0] == 0


def test_uncaught_ctrl_c_ends_by_sigint(server: Server) -> None:
    code = "import time\nprint('ready', flush=True)\nif True:\n" + WAIT

    def interrupt(session: Session) -> None:
        session.read_until(b"ready")
        session.type(b"\x03")

    plain, served = both_on_terminal(server, ["-c", code], interrupt)
    assert served[0] == plain[0] == -2
    assert b"KeyboardInterrupt" in served[1]


def test_ctrl_z_stops_and_fg_continues(server: Server) -> None:
    code = ("import time\nprint('ready', flush=True)\n"
            "for _ in range(20):\n    time.sleep(0.05)\n"
            "print('done', flush=True)\n")

    def suspend(session: Session) -> None:
        session.read_until(b"ready")
        session.type(b"\x1a")
        assert session.event("STOPPED") == "STOPPED 20"
        assert session.event("CONTINUED") == "CONTINUED"
        session.read_until(b"done")

    plain, served = both_on_terminal(server, ["-c", code], suspend)
    assert served[0] == plain[0] == 0


def test_repl_reads_lines_and_exits_on_eof(server: Server) -> None:
    def dialogue(session: Session) -> None:
        session.read_until(b">>> ")
        session.type(b"print(6 * 7)\r")
        session.read_until(b"42")
        session.read_until(b">>> ")
        session.type(b"\x04")

    plain, served = both_on_terminal(server, [], dialogue)
    assert served == plain
    assert served[0] == 0 and b"42" in served[1]


def test_repl_exit_status(server: Server) -> None:
    def leave(session: Session) -> None:
        session.read_until(b">>> ")
        session.type(b"raise SystemExit(5)\r")

    plain, served = both_on_terminal(server, [], leave)
    assert served[0] == plain[0]
    # 3.13's REPL ends a `run != 0`, whatever the code.
    assert served[0] == (1 if sys.version_info >= (3, 13) else 5)


def test_repl_runs_the_startup_file_as_python(server: Server,
                                              tmp_path: Path) -> None:
    """PYTHONSTARTUP runs in __main__ with __file__ set while it runs, and
    leaves a SourceFileLoader for it as __main__.__loader__."""
    startup = tmp_path / "startup.py"
    startup.write_text("print('startup', __file__, __cached__, "
                       "type(__loader__).__name__)\n")

    def dialogue(session: Session) -> None:
        session.read_until(b">>> ")
        session.type(b"print('main', type(__loader__).__name__, "
                     b"__loader__.path)\r")
        session.read_until(b"main ")
        session.read_until(b">>> ")
        session.type(b"\x04")

    env = dict(server.env, PYTHONSTARTUP=str(startup))
    plain, served = both_on_terminal(server, [], dialogue, env)
    assert served == plain
    assert f"startup {startup} None SourceFileLoader".encode() in served[1]
    if sys.version_info < (3, 13):  # 3.13's REPL runs as _pyrepl's __main__
        assert f"main SourceFileLoader {startup}".encode() in served[1]
