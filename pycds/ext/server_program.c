/*
 * server_program.c - one program's process, as the server sees it: forked
 * for the program (or a pool child handed its connection), leading its own
 * process group, dying with the server, and reaped here, its end reported
 * to its client; nothing is left a zombie.  What the process does itself
 * is child.c's and pycds/_child.py's.
 */
#define _GNU_SOURCE
#include "server_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * In a new child: keep nothing of the server but keep_fd, lead a process
 * group, and die with the server.
 */
static void become_child(server *s, pid_t server_pid, int keep_fd)
{
    close(s->listen_fd);
    close(s->epoll_fd);
    close(s->signal_fd);
    close(s->started_read);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pycds_watch_close(s->watch);
    s->watch = NULL;
    for (size_t i = 0; i < s->pending.count; i++) {
        pending_conn *p = SERVER_PENDING(s, i);
        if (p->fd != keep_fd)
            close(p->fd);
        if (p->client >= 0)
            close(p->client);
    }
    for (size_t i = 0; i < s->children.count; i++) {
        child *c = SERVER_CHILD(s, i);
        if (c->conn >= 0 && c->conn != keep_fd)
            close(c->conn);
        if (c->channel >= 0 && c->channel != keep_fd)
            close(c->channel);
        if (c->client >= 0)
            close(c->client);
    }
    for (size_t i = 0; i < s->closing.count; i++)
        if (OS_ARRAY_AT(&s->closing, int, i) != keep_fd)
            close(OS_ARRAY_AT(&s->closing, int, i));
    s->children.count = s->pending.count = s->closing.count = 0;
    sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server_pid)
        _exit(0); /* the server is already gone */
}

/* fork() with the interpreter's own before/after steps (those of
 * os.fork: locks, at-fork callbacks such as random's reseeding). */
pid_t server_fork(server *s, int keep_fd)
{
    pid_t server_pid = getpid();
    fflush(NULL);
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        PyOS_AfterFork_Child();
        become_child(s, server_pid, keep_fd);
        return 0;
    }
    int saved = errno;
    PyOS_AfterFork_Parent();
    errno = saved;
    return pid;
}

int server_start_program(server *s, int conn, int client)
{
    for (size_t i = 0; i < s->children.count; i++) {
        child *c = SERVER_CHILD(s, i);
        if (c->channel < 0)
            continue;
        if (run_send(c->channel, RUN_MSG_HANDOFF, NULL, 0, &conn, 1, NULL) ==
            RUN_OK) {
            server_close_later(s, c->channel);
            c->channel = CHANNEL_RUNNING;
            c->conn = conn;
            c->client = client;
            return 0;
        }
        /* That child is gone; it is reaped when its SIGCHLD comes. */
        server_close_later(s, c->channel);
        c->channel = CHANNEL_DROPPED;
    }
    pid_t pid = server_fork(s, conn);
    if (pid == 0) {
        if (client >= 0)
            close(client); /* the server's, not yet in its table */
        s->program_conn = conn;
        return 1;
    }
    if (pid < 0 || !server_add_child(s, pid, conn, client, CHANNEL_RUNNING)) {
        server_log("fork: %s", strerror(errno));
        server_reply(conn, RUN_MSG_PLAIN, "the server cannot fork");
        server_close_later(s, conn);
        if (client >= 0)
            close(client);
        if (pid > 0)
            kill(pid, SIGKILL);
        return -1;
    }
    return 0;
}

static child *child_by_conn(server *s, int conn)
{
    for (size_t i = 0; i < s->children.count; i++)
        if (SERVER_CHILD(s, i)->conn == conn)
            return SERVER_CHILD(s, i);
    return NULL;
}

void server_on_conn_closed(server *s, int conn)
{
    child *c = child_by_conn(s, conn);
    if (!c)
        return; /* handled earlier in this batch of events */
    server_close_later(s, conn);
    c->conn = -1;
    kill(c->pid, SIGKILL);
}

void server_on_started(server *s)
{
    int32_t pids[256];
    ssize_t n;
    while ((n = read(s->started_read, pids, sizeof pids)) > 0)
        s->started += (unsigned long)n / sizeof pids[0];
}

/* Tell the client how its program ended. */
static void report(int conn, int status)
{
    run_exit how = {0};
    if (WIFSIGNALED(status)) {
        how.signaled = 1;
        how.value = WTERMSIG(status);
        how.core_dumped = WCOREDUMP(status) != 0;
    } else {
        how.value = WEXITSTATUS(status);
    }
    unsigned char body[16];
    run_exit_encode(&how, body);
    run_send(conn, RUN_MSG_EXIT, body, sizeof body, NULL, 0, NULL);
}

void server_reap(server *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);
        if (pid <= 0)
            break;
        child *c = server_find_child(s, pid);
        if (!c)
            continue;
        if (WIFSTOPPED(status)) {
            if (c->conn >= 0) {
                unsigned char body[4];
                run_i32_encode(WSTOPSIG(status), body);
                run_send(c->conn, RUN_MSG_STOPPED, body, 4, NULL, 0, NULL);
            }
            continue;
        }
        if (WIFCONTINUED(status)) {
            /* Continued by anyone: its client, stopped with it, too. */
            if (c->conn >= 0 && c->client >= 0)
                syscall(SYS_pidfd_send_signal, c->client, SIGCONT, NULL, 0);
            continue;
        }
        if (c->conn >= 0) {
            report(c->conn, status);
            server_close_later(s, c->conn);
        } else if (c->channel >= 0) {
            server_log("an idle pool child (pid %ld) ended unexpectedly",
                       (long)pid);
            server_close_later(s, c->channel);
        }
        server_remove_child(s, c);
        s->last_activity = os_now_ns();
    }
}

void server_reap_all(server *s)
{
    if (s->kill_all)
        for (size_t i = 0; i < s->children.count; i++)
            kill(SERVER_CHILD(s, i)->pid, SIGKILL);
    /* Idle pool children end on their own: their channels are closed. */
    while (s->children.count > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0)
            break;
        child *c = server_find_child(s, pid);
        if (c) {
            if (c->conn >= 0) {
                report(c->conn, status);
                close(c->conn);
            }
            server_remove_child(s, c);
        }
    }
}
