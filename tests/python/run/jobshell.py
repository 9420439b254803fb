"""A small job-control shell for the terminal tests.

    jobshell.py REPORT_FD COMMAND [ARG...]

Started as a session leader on a terminal (its standard input), it runs
the command as the terminal's foreground job, in a process group of its
own, as an interactive shell does: then a Ctrl-Z stops the job instead of
being discarded.  On REPORT_FD it writes what a shell sees: "STARTED pid",
"STOPPED signal" (after which it continues the job, as `fg` would, and
writes "CONTINUED"), and "EXIT status" (as subprocess reports it)."""

import fcntl
import os
import signal
import sys
import termios
import time

report = os.fdopen(int(sys.argv[1]), "w", buffering=1)
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.argv[2], sys.argv[2:])
try:
    os.setpgid(pid, pid)
except OSError:
    pass
os.tcsetpgrp(0, pid)
report.write(f"STARTED {pid}\n")
while True:
    _, status = os.waitpid(pid, os.WUNTRACED)
    if os.WIFSTOPPED(status):
        report.write(f"STOPPED {os.WSTOPSIG(status)}\n")
        os.tcsetpgrp(0, os.getpgrp())
        time.sleep(0.3)
        os.tcsetpgrp(0, pid)
        os.killpg(pid, signal.SIGCONT)
        report.write("CONTINUED\n")
        continue
    report.write(f"EXIT {os.waitstatus_to_exitcode(status)}\n")
    break
