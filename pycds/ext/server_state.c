/*
 * server_state.c - the fork server's state and the steps every part of it
 * takes on that state: its log, the table of children, descriptors closed
 * after a batch of events, and stopping.  server.c (the loop, listening,
 * the pool), server_program.c (a program's process) and server_status.c
 * (status and stop requests) call here; nothing here calls them.
 */
#define _GNU_SOURCE
#include "server_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ log */

void server_log(const char *format, ...)
{
    char line[1024];
    int n = (int)run_log_prefix(line, sizeof line);
    va_list args;
    va_start(args, format);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, format, args);
    va_end(args);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0)
        return; /* nowhere to say it */
}

/* -------------------------------------------------------------- helpers */

double server_since(uint64_t then)
{
    return (double)(int64_t)(os_now_ns() - then) / 1e9;
}

int server_watch_fd(server *s, int fd, enum tag tag, uint32_t events)
{
    struct epoll_event e = {.events = events,
                            .data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd};
    return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &e);
}

void server_reply(int conn, run_message type, const char *text)
{
    run_send(conn, type, text, (uint32_t)strlen(text) + 1, NULL, 0, NULL);
}

child *server_find_child(server *s, pid_t pid)
{
    for (size_t i = 0; i < s->children.count; i++)
        if (SERVER_CHILD(s, i)->pid == pid)
            return SERVER_CHILD(s, i);
    return NULL;
}

child *server_add_child(server *s, pid_t pid, int conn, int client, int channel)
{
    child *c = os_array_push(&s->children);
    if (!c)
        return NULL;
    c->pid = pid;
    c->conn = conn;
    c->client = client;
    c->channel = channel;
    return c;
}

void server_remove_child(server *s, child *c)
{
    if (c->client >= 0)
        close(c->client);
    os_array_remove(&s->children, (size_t)(c - SERVER_CHILD(s, 0)));
}

void server_close_later(server *s, int fd)
{
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    if (!os_array_append(&s->closing, &fd, 1))
        close(fd); /* no room to wait: at once, as before */
}

void server_close_deferred(server *s)
{
    for (size_t i = 0; i < s->closing.count; i++)
        close(OS_ARRAY_AT(&s->closing, int, i));
    s->closing.count = 0;
}

/* Children that are not idle in the pool: those running programs, and
 * dropped pool children until they are reaped. */
size_t server_count_running(const server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->children.count; i++)
        n += SERVER_CHILD(s, i)->channel < 0;
    return n;
}

size_t server_count_idle(const server *s)
{
    return s->children.count - server_count_running(s);
}

/* ------------------------------------------------------------ stopping */

void server_stop_accepting(server *s, const char *why, int stale)
{
    if (s->draining)
        return;
    s->draining = 1;
    s->stale = stale;
    snprintf(s->reason, sizeof s->reason, "%s", why);
    server_log("%s; finishing %zu running program(s)", why,
               server_count_running(s));
    /* The socket goes first, then the lock: the next client finds no
     * server and may start one at once. */
    struct stat st;
    if (stat(s->socket_path, &st) == 0 && st.st_ino == s->socket_ino &&
        st.st_dev == s->socket_dev)
        unlink(s->socket_path);
    /* Clients already queued are answered, not dropped. */
    for (;;) {
        int conn =
            accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0)
            break;
        server_reply(conn, stale ? RUN_MSG_STALE : RUN_MSG_PLAIN, why);
        close(conn);
    }
    close(s->listen_fd);
    s->listen_fd = -1;
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
    }
    /* Idle pool children are not needed: closing the channel ends them. */
    for (size_t i = 0; i < s->children.count; i++) {
        child *c = SERVER_CHILD(s, i);
        if (c->channel >= 0) {
            server_close_later(s, c->channel);
            c->channel = CHANNEL_DROPPED;
        }
    }
    for (size_t i = 0; i < s->pending.count; i++) {
        pending_conn *p = SERVER_PENDING(s, i);
        server_reply(p->fd, stale ? RUN_MSG_STALE : RUN_MSG_PLAIN, why);
        server_close_later(s, p->fd);
        if (p->client >= 0)
            close(p->client);
    }
    s->pending.count = 0;
}

int server_check_stale(server *s)
{
    char why[512];
    if (s->stale)
        return 1;
    if (!s->watch || !pycds_watch_changed(s->watch, why, sizeof why))
        return 0;
    char line[600];
    snprintf(line, sizeof line, "stale: %s", why);
    server_stop_accepting(s, line, 1);
    return 1;
}
