/*
 * plain.c - running python itself: the same arguments, the caller's own
 * signal state, by exec (so the caller sees python's exit status, its pid,
 * everything).  Whatever the client cannot serve exactly, python runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

int message_fd = 2;

void say(const client *c, int level, const char *format, ...)
{
    if (c->verbose < level)
        return;
    char line[1024];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* Straight to fd 2: nothing buffered, nothing the program could see. */
    if (message_fd >= 0 && write(message_fd, "pycds-run: ", 11) >= 0 &&
        write(message_fd, line, (size_t)n) >= 0)
        return;
}

void run_plain(const client *c, const char *why)
{
    if (why)
        say(c, 1, "plain python: %s", why);
    signals_restore();
    execve(c->python, c->argv, c->envp);
    int saved = errno;
    dprintf(2, "pycds-run: cannot run %s: %s\n", c->python, strerror(saved));
    _exit(saved == ENOENT ? 127 : 126);
}
