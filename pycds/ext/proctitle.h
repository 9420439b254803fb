/*
 * proctitle.h - what /proc/PID/cmdline shows for this process (ps, pgrep
 * -f, psutil's cmdline()): a served program's process shows its program's
 * command line, not the server's.
 */
#ifndef PYCDS_PROCTITLE_H
#define PYCDS_PROCTITLE_H

#include <stddef.h>

/* Make /proc/self/cmdline read argv[0..argc), each followed by a NUL,
 * exactly as the kernel shows an exec'd process's arguments.  0, or -1
 * with errno set (the process keeps the command line it had). */
int pycds_show_command_line(const char *const *argv, size_t argc);

#endif /* PYCDS_PROCTITLE_H */
