/*
 * server_state.h - what the parts of the fork server share: its state and
 * the steps on it.  server.c listens, runs the loop and keeps the pool;
 * server_program.c carries one program's process from fork to report;
 * server_status.c answers status and stop requests; server_state.c holds
 * the steps they all take.  Calls go one way: server.c to the other
 * three, server_program.c and server_status.c to server_state.c.
 */
#ifndef PYCDS_SERVER_STATE_H
#define PYCDS_SERVER_STATE_H

#include <Python.h>

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "os/array.h"
#include "os/clock.h"
#include "run/run.h"
#include "run/server.h"
#include "watch.h"

/* What an event in the epoll set is about (the high half of its data). */
enum tag {
    TAG_LISTEN = 1, /* the listening socket */
    TAG_SIGNAL,     /* the signalfd */
    TAG_WATCH,      /* the inotify watch on the preloaded code */
    TAG_PENDING,    /* a connection whose first frame is awaited */
    TAG_CONN,       /* a running program's client went away */
    TAG_STARTED     /* programs' processes wrote their pids (they started) */
};

/*
 * child.channel: an idle pool child's end of the socket pair it waits on
 * for a connection (>= 0), or one of these.
 */
enum child_channel {
    /* No channel: the child runs a program (forked for it, or a pool
     * child that has been handed one). */
    CHANNEL_RUNNING = -1,
    /* A pool child whose channel the server closed (it stops, or the
     * handoff failed): it ends on its own and is reaped without a report. */
    CHANNEL_DROPPED = -2,
};

/* A process the server forked: a program's, or a pool child's. */
typedef struct child {
    pid_t pid;
    int conn;    /* the client's connection, -1 when none (yet) */
    int client;  /* a pidfd of the client, -1 when none */
    int channel; /* >= 0 while idle in the pool, else enum child_channel */
} child;

/* A connection accepted whose first frame has not been seen yet. */
typedef struct pending_conn {
    int fd;
    int client; /* a pidfd of the client (from SO_PEERCRED), or -1 */
} pending_conn;

typedef struct server {
    /* ---- descriptors */
    int listen_fd; /* the listening socket; -1 once it stops accepting */
    int epoll_fd;  /* everything the loop waits for (enum tag) */
    int signal_fd; /* SIGCHLD, and TERM, INT, HUP to stop */
    int lock_fd;   /* the key's lock, held until it stops accepting */
    /* Each program's process writes its pid here when its program starts
     * (after GO): the count of programs run, as opposed to requests. */
    int started_read, started_write;
    pycds_watch *watch; /* the preloaded code's files, or NULL */

    /* ---- the socket, to unlink only the one this server bound */
    char socket_path[108];
    dev_t socket_dev;
    ino_t socket_ino;
    sigset_t original_mask; /* restored in every child */

    /* ---- processes and connections */
    os_array children; /* child: programs' processes and pool children */
    os_array pending;  /* pending_conn */
    /* int: descriptors closed once the current batch of events is handled,
     * so that no number is reused (by accept) while an event may name it. */
    os_array closing;

    /* ---- the pool */
    int pool_size;         /* idle children to keep (0: none) */
    uint64_t refill_after; /* the pool's back-off after a failure */
    const char *pages;     /* the learnt pages' list, or "" */
    PyObject *ahead;       /* called in a pool child before it waits, or NULL */

    /* ---- time (os_now_ns: CLOCK_MONOTONIC, nanoseconds) and counts */
    double idle_timeout; /* seconds without programs before exiting; 0 */
    uint64_t started_at, last_activity;
    unsigned long requests, started; /* programs asked for, and started */

    /* ---- stopping */
    int draining;     /* no longer accepting: finishing running programs */
    int stale;        /* draining because the preloaded code changed */
    int signalled;    /* a stop signal came (a second one sets kill_all) */
    int kill_all;     /* end running programs instead of waiting for them */
    char reason[512]; /* why it stops, once draining */

    /* The status report's fields the Python side gave (RUN_REPORT_PYTHON
     * and after); the loop fills in its own when asked. */
    run_report report;

    /* Set in a program's process: the connection it serves. */
    int program_conn;
} server;

/* ------------------------------------------------------ server_state.c */

/* One line in the server's log (its standard error), stamped. */
void server_log(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Seconds since then (os_now_ns), negative while then is ahead. */
double server_since(uint64_t then);

/* Add fd to the loop's epoll set under tag. */
int server_watch_fd(server *s, int fd, enum tag tag, uint32_t events);

/* Answer on conn with one frame of text. */
void server_reply(int conn, run_message type, const char *text);

/* Stop watching fd and close it after this batch of events. */
void server_close_later(server *s, int fd);

/* Close what server_close_later kept (the batch is handled). */
void server_close_deferred(server *s);

/* Stop accepting (socket and lock go, waiting clients are answered with
 * why), and let the running programs finish. */
void server_stop_accepting(server *s, const char *why, int stale);

/* Read the watch: 1 when the preloaded code changed (then draining). */
int server_check_stale(server *s);

/* Item i of the table of children, of the pending connections. */
#define SERVER_CHILD(s, i) (&OS_ARRAY_AT(&(s)->children, child, i))
#define SERVER_PENDING(s, i) (&OS_ARRAY_AT(&(s)->pending, pending_conn, i))

/* The table of children. */
child *server_add_child(server *s, pid_t pid, int conn, int client,
                        int channel);
child *server_find_child(server *s, pid_t pid);
void server_remove_child(server *s, child *c);
size_t server_count_running(const server *s);
size_t server_count_idle(const server *s);

/* ---------------------------------------------------- server_program.c */

/* fork() with the interpreter's own before and after steps; in the child,
 * nothing of the server is kept but keep_fd.  The pid, 0 in the child. */
pid_t server_fork(server *s, int keep_fd);

/* Hand a program's connection to an idle pool child, or fork one for it:
 * 1 in the program's process, 0 in the server, -1 when it could not (the
 * client was answered and conn closed). */
int server_start_program(server *s, int conn, int client);

/* A running program's client went away: so does its program. */
void server_on_conn_closed(server *s, int conn);

/* Count the programs whose processes said they started. */
void server_on_started(server *s);

/* Reap the children that ended and report each program's end to its
 * client; pass stops and continues on. */
void server_reap(server *s);

/* Once draining: wait for every child left and report the programs' ends
 * (after SIGKILL to each when kill_all). */
void server_reap_all(server *s);

/* ----------------------------------------------------- server_status.c */

/* A control message (STATUS_QUERY, STOP) on conn: act and answer it. */
void server_answer_control(server *s, int conn);

#endif /* PYCDS_SERVER_STATE_H */
