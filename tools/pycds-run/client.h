/*
 * client.h - what the parts of pycds-run share.
 *
 * pycds-run is a drop-in for python: it finds (or starts) the server that
 * preloaded the modules this program wants and has the server fork a
 * process for it; anything it cannot serve exactly as python would, it
 * hands to python itself by exec.  main.c decides, session.c talks to the
 * server and waits, start.c starts a server, plain.c runs python, and
 * signals.c forwards signals and job control.
 */
#ifndef PYCDS_RUN_CLIENT_H
#define PYCDS_RUN_CLIENT_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "run/run.h"

typedef struct client {
    int argc;    /* python's arguments (argv without pycds-run's own) */
    char **argv; /* argv[0] is the interpreter path */
    char **envp;
    int verbose; /* PYCDSVERBOSE */
    char python[PATH_MAX];
    char preload[4096]; /* normalised */
    char archive[PATH_MAX];
    run_cmdline cmdline;
    /* The descriptors open when pycds-run started: the program's. */
    int n_fds;
    int fds[RUN_MAX_FDS];
} client;

/* Where the client's own messages go: standard error, or a private copy
 * of it once the program has the descriptors (-1: nowhere). */
extern int message_fd;

/* One line on stderr, "pycds-run: ...", when PYCDSVERBOSE >= level. */
void say(const client *c, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Run python itself with the same arguments (never returns). */
void run_plain(const client *c, const char *why) __attribute__((noreturn));

/* signals.c: the caller's signal state, captured before anything else. */
void signals_capture(void);
uint64_t signals_ignored(void);
uint64_t signals_blocked(void);
void signals_restore(void);
/* Forward signals to the program (pidfd of its process) from now on. */
void signals_forward(int pidfd, pid_t pid);
/* Stop this process with sig, as the program was; returns when continued. */
void signals_stop_self(int sig);
/* End this process as the program ended: its code, or its signal. */
void signals_exit_like(const run_exit *how) __attribute__((noreturn));

/* start.c: start the server for key in the background (detached, output
 * to its log), unless one holds the key's lock.  Returns 1 when this call
 * started it, 0 when another holds the lock, -1 on error (diag). */
int start_server(const client *c, const char *dir, const char *key,
                 run_diag *diag);
/* Whether a server holds the key's lock (running or starting). */
int server_alive(const char *dir, const char *key);

/* session.c: run the program through the server at socket_path.  Returns
 * only when the program did not start (why says so): then python must run
 * it.  wait_ms > 0 keeps trying to connect that long while the key's
 * server is starting. */
typedef enum session_outcome {
    SESSION_NO_SERVER, /* nobody listens: a server may be started */
    SESSION_STALE,     /* the server's preloaded code changed */
    SESSION_FAILED,    /* anything else */
} session_outcome;
session_outcome session_run(client *c, const char *socket_path, const char *dir,
                            const char *key, int wait_ms, const char **why);

#endif /* PYCDS_RUN_CLIENT_H */
