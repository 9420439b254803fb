/*
 * server.c - the fork server's loop: accept a program's connection, check
 * who it is from, fork a process for it (or hand it to a process forked
 * ahead, the pool), and report how the program ended.
 *
 * The loop is C so that a request costs the server no interpreter work:
 * it never reads the request (the program's process does), it only peeks
 * at the first frame's header to tell a program from a control message.
 * Everything the server waits for is one epoll set: the listening socket,
 * each connection (a client that goes away takes its program with it),
 * a signalfd (children that end or stop; TERM, INT and HUP to stop), and
 * the inotify watch on the preloaded code.
 *
 * Staleness: before any program is forked the watch is read, so a program
 * never starts from code that changed.  A stale server stops accepting at
 * once (closes and unlinks its socket, releases its lock, so the next
 * client starts a fresh server), answers waiting clients STALE, lets its
 * running programs finish and returns.
 *
 * This file listens, runs the loop and keeps the pool; a program's
 * process from fork to report is server_program.c's, the answers to
 * status and stop requests server_status.c's, and the steps all of them
 * take on the server's state (its log, the table of children, stopping)
 * server_state.c's.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "error.h"
#include "pages.h"
#include "runlib.h"
#include "server_state.h"

/* ---------------------------------------------------------------- pool */

/* A pool child waits here for its client's connection (in the child). */
static int pool_wait(int channel)
{
    run_frame frame;
    if (run_recv(channel, &frame, -1, NULL) != RUN_OK ||
        frame.type != RUN_MSG_HANDOFF || frame.n_fds != 1)
        _exit(0); /* the server closed the channel: not needed */
    int conn = frame.fds[0];
    frame.n_fds = 0;
    run_frame_release(&frame);
    close(channel);
    return conn;
}

/* After a failure to fill the pool, wait a second before trying again. */
static void back_off(server *s)
{
    s->refill_after = os_now_ns() + 1000000000u;
}

/* Fork one more idle child for the pool.  1 in the child (then
 * s->program_conn is its connection), 0 in the server. */
static int spawn_pool_child(server *s)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        server_log("pool: socketpair: %s", strerror(errno));
        back_off(s);
        return 0;
    }
    pid_t pid = server_fork(s, pair[1]);
    if (pid == 0) {
        close(pair[0]);
        /* What a program's process can do before its request, done while
         * waiting for one. */
        if (s->ahead) {
            PyObject *done = PyObject_CallNoArgs(s->ahead);
            if (!done)
                PyErr_Print(); /* to the server's log; the request redoes it */
            Py_XDECREF(done);
        }
        if (s->pages[0])
            pycds_pages_prefault(s->pages);
        s->program_conn = pool_wait(pair[1]);
        return 1;
    }
    close(pair[1]);
    if (pid < 0 || !server_add_child(s, pid, -1, -1, pair[0])) {
        server_log("pool: fork: %s", strerror(errno));
        close(pair[0]);
        if (pid > 0)
            kill(pid, SIGKILL);
        back_off(s);
    }
    return 0;
}

/* ------------------------------------------------------------ requests */

/* Forget a pending connection; the client's pidfd, now the caller's. */
static int drop_pending(server *s, int conn)
{
    int client = -1;
    for (size_t i = 0; i < s->pending.count; i++)
        if (SERVER_PENDING(s, i)->fd == conn) {
            client = SERVER_PENDING(s, i)->client;
            os_array_remove(&s->pending, i);
            break;
        }
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, conn, NULL);
    return client;
}

/* The first frame of a new connection has (maybe) arrived: act on it.
 * Returns 1 in a program's process. */
static int on_pending(server *s, int conn)
{
    int known = 0;
    for (size_t i = 0; i < s->pending.count; i++)
        known |= SERVER_PENDING(s, i)->fd == conn;
    if (!known)
        return 0; /* handled earlier in this batch of events */
    run_frame_header header;
    ssize_t n = recv(conn, &header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n > 0 && n < (ssize_t)sizeof header)
        return 0; /* the rest of the header is on its way */
    int client = drop_pending(s, conn);
    if (n > 0 && header.type == RUN_MSG_REQUEST &&
        header.magic == RUN_WIRE_MAGIC && header.version == RUN_WIRE_VERSION) {
        s->last_activity = os_now_ns();
        if (server_check_stale(s)) {
            server_reply(conn, RUN_MSG_STALE, s->reason);
        } else {
            s->requests++;
            int started = server_start_program(s, conn, client);
            if (started == 1)
                return 1;
            if (started == 0) {
                /* From now on only the client's departure matters. */
                server_watch_fd(s, conn, TAG_CONN, EPOLLRDHUP);
                return 0;
            }
            return 0; /* refused, and closed, by start_program */
        }
    } else if (n > 0 && (header.magic != RUN_WIRE_MAGIC ||
                         header.version != RUN_WIRE_VERSION)) {
        server_reply(conn, RUN_MSG_PLAIN,
                     "the server speaks another version of the protocol");
    } else if (n > 0) {
        server_answer_control(s, conn);
    }
    if (client >= 0)
        close(client);
    server_close_later(s, conn);
    return 0;
}

/* Accept every waiting connection.  Returns 1 in a program's process. */
static int on_listen(server *s)
{
    for (;;) {
        int conn =
            accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0)
            return 0;
        struct ucred peer;
        socklen_t size = sizeof peer;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
            peer.uid != geteuid()) {
            server_log("refused a connection from uid %ld (pid %ld)",
                       (long)peer.uid, (long)peer.pid);
            close(conn);
            continue;
        }
        pending_conn *waiting = os_array_push(&s->pending);
        if (!waiting) {
            close(conn);
            continue;
        }
        /* A pidfd of the client, to continue it when its program is
         * continued (job control); safe from pid reuse. */
        waiting->fd = conn;
        waiting->client = (int)syscall(SYS_pidfd_open, peer.pid, 0);
        server_watch_fd(s, conn, TAG_PENDING, EPOLLIN | EPOLLRDHUP);
        /* The client sends its request right after connecting: it is
         * usually here already, and needs no other turn of the loop. */
        if (on_pending(s, conn))
            return 1;
        if (s->draining)
            return 0;
    }
}

/* Signals: a stop request, or children that ended, stopped or went on. */
static void on_signal(server *s)
{
    struct signalfd_siginfo info;
    while (read(s->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD)
            continue;
        if (s->signalled && info.ssi_signo != SIGHUP)
            s->kill_all = 1; /* asked twice: do not wait for programs */
        s->signalled = 1;
        char why[64];
        snprintf(why, sizeof why, "stopped by signal %u",
                 (unsigned)info.ssi_signo);
        server_stop_accepting(s, why, 0);
    }
    server_reap(s);
}

/* ---------------------------------------------------------------- setup */

static int listen_on(server *s, const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        return pycds_fail(PYCDS_ERROR_OS, "%s: too long for a socket path",
                          path);
    }
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
    snprintf(s->socket_path, sizeof s->socket_path, "%s", path);
    s->listen_fd =
        socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        return pycds_raise_errno(NULL), -1;
    /* A socket left by a server that died: the lock (held by the caller)
     * says no live server owns this path. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    mode_t mask = umask(077);
    int bound = bind(s->listen_fd, (struct sockaddr *)&address, sizeof address);
    umask(mask);
    if (bound != 0 || listen(s->listen_fd, SOMAXCONN) != 0 ||
        stat(path, &st) != 0) {
        return pycds_raise_errno(path), -1;
    }
    s->socket_dev = st.st_dev;
    s->socket_ino = st.st_ino;
    return 0;
}

static int add_watches(server *s, PyObject *spec)
{
    char error[512];
    if (pycds_watch_open(&s->watch, error, sizeof error) != 0)
        return pycds_fail(PYCDS_ERROR_OS, "%s", error);
    PyObject *iterator = PyObject_GetIter(spec);
    if (!iterator)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(iterator))) {
        const char *directory;
        PyObject *names;
        if (!PyArg_ParseTuple(item, "sO", &directory, &names)) {
            Py_DECREF(item);
            break;
        }
        PyObject *list = PySequence_Fast(names, "names must be a sequence");
        if (!list) {
            Py_DECREF(item);
            break;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(list);
        const char **strings = PyMem_Calloc((size_t)n + 1, sizeof *strings);
        int ok = strings != NULL;
        for (Py_ssize_t i = 0; ok && i < n; i++) {
            strings[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(list, i));
            ok = strings[i] != NULL;
        }
        if (ok && pycds_watch_add(s->watch, directory, strings, (size_t)n,
                                  error, sizeof error) != 0) {
            pycds_raise(PYCDS_ERROR_OS, "%s", error);
            ok = 0;
        }
        PyMem_Free(strings);
        Py_DECREF(list);
        Py_DECREF(item);
        if (!ok)
            break;
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static void release(server *s)
{
    if (s->listen_fd >= 0) {
        struct stat st;
        if (stat(s->socket_path, &st) == 0 && st.st_ino == s->socket_ino &&
            st.st_dev == s->socket_dev)
            unlink(s->socket_path);
        close(s->listen_fd);
    }
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->started_read >= 0)
        close(s->started_read);
    if (s->started_write >= 0)
        close(s->started_write);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pycds_watch_close(s->watch);
    for (size_t i = 0; i < s->pending.count; i++) {
        pending_conn *p = SERVER_PENDING(s, i);
        close(p->fd);
        if (p->client >= 0)
            close(p->client);
    }
    server_close_deferred(s);
    for (size_t i = 0; i < s->children.count; i++) {
        child *c = SERVER_CHILD(s, i);
        if (c->conn >= 0)
            close(c->conn);
        if (c->channel >= 0)
            close(c->channel);
    }
    os_array_free(&s->children);
    os_array_free(&s->pending);
    os_array_free(&s->closing);
    sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
}

/* ----------------------------------------------------------------- loop */

/* The loop; returns 1 in a program's process, 0 when the server is done. */
static int loop(server *s)
{
    for (;;) {
        if (s->draining && (server_count_running(s) == 0 || s->kill_all)) {
            server_reap_all(s);
            return 0;
        }
        int timeout = -1;
        int refill = !s->draining && (int)server_count_idle(s) < s->pool_size &&
                     server_since(s->refill_after) >= 0;
        if (refill) {
            timeout = 0;
        } else if (!s->draining && (int)server_count_idle(s) < s->pool_size) {
            timeout = 1000; /* backing off: try the pool again soon */
        } else if (s->idle_timeout > 0 && server_count_running(s) == 0 &&
                   s->pending.count == 0 && !s->draining) {
            double left = s->idle_timeout - server_since(s->last_activity);
            timeout = left <= 0 ? 0 : (int)(left * 1000) + 1;
        }
        struct epoll_event events[64];
        int n;
        Py_BEGIN_ALLOW_THREADS
            n = epoll_wait(s->epoll_fd, events, 64, timeout);
        Py_END_ALLOW_THREADS
        if (n < 0 && errno != EINTR) {
            server_log("epoll: %s", strerror(errno));
            server_stop_accepting(s, "internal error", 0);
            server_close_deferred(s); /* the pool's channels: ends them */
            continue;
        }
        if (n == 0 && refill) {
            if (spawn_pool_child(s))
                return 1;
            continue;
        }
        /* Idle: no program running or waiting, for the whole timeout (a
         * wake-up to retry the pool is none; a timeout of 0 is never). */
        if (n == 0 && timeout >= 0 && !s->draining && s->idle_timeout > 0 &&
            server_count_running(s) == 0 && s->pending.count == 0 &&
            server_since(s->last_activity) >= s->idle_timeout) {
            char why[64];
            snprintf(why, sizeof why, "idle for %.0f s", s->idle_timeout);
            server_stop_accepting(s, why, 0);
            /* The pool's children end when their channels close: closed
             * now, since no event is waiting to be read (a closing left
             * for the end of the loop waited for ever). */
            server_close_deferred(s);
            continue;
        }
        for (int i = 0; i < n; i++) {
            enum tag tag = (enum tag)(events[i].data.u64 >> 32);
            int fd = (int)(uint32_t)events[i].data.u64;
            switch (tag) {
            case TAG_LISTEN:
                if (s->listen_fd >= 0 && on_listen(s))
                    return 1;
                break;
            case TAG_SIGNAL: on_signal(s); break;
            case TAG_WATCH: server_check_stale(s); break;
            case TAG_PENDING:
                if (on_pending(s, fd))
                    return 1;
                break;
            case TAG_CONN: server_on_conn_closed(s, fd); break;
            case TAG_STARTED: server_on_started(s); break;
            }
        }
        server_close_deferred(s);
    }
}

PyObject *pycds_serve(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {"socket_path", "lock_fd",      "watch",
                               "pool",        "idle_timeout", "info",
                               "pages",       "ahead",        NULL};
    const char *path;
    int lock_fd = -1, pool = 0;
    PyObject *watch = NULL, *ahead = NULL, *info = NULL;
    double idle_timeout = RUN_IDLE_TIMEOUT_DEFAULT;
    const char *pages = "";
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "s|$iOidO!sO", keywords, &path, &lock_fd, &watch,
            &pool, &idle_timeout, &PyDict_Type, &info, &pages, &ahead))
        return NULL;
    if (ahead == Py_None)
        ahead = NULL;
    run_diag diag;
    if (run_pool_check(pool, &diag) != RUN_OK)
        return pycds_raise(PYCDS_ERROR_VALUE, "%s", diag.message);
    server s;
    memset(&s, 0, sizeof s);
    if (info && pycds_report_from_dict(info, &s.report) < 0)
        return NULL;
    s.children = (os_array)OS_ARRAY_INIT(child);
    s.pending = (os_array)OS_ARRAY_INIT(pending_conn);
    s.closing = (os_array)OS_ARRAY_INIT(int);
    s.listen_fd = s.epoll_fd = s.signal_fd = -1;
    s.started_read = s.started_write = -1;
    s.lock_fd = lock_fd;
    s.program_conn = -1;
    s.pool_size = pool;
    s.idle_timeout = idle_timeout;
    s.pages = pages;
    s.ahead = ahead;
    s.started_at = os_now_ns();
    s.last_activity = s.started_at;

    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigprocmask(SIG_BLOCK, &handled, &s.original_mask);
    s.signal_fd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
    s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int started[2];
    if (pipe2(started, O_CLOEXEC | O_NONBLOCK) == 0) {
        s.started_read = started[0];
        s.started_write = started[1];
    }
    if (s.signal_fd < 0 || s.epoll_fd < 0 || s.started_read < 0) {
        pycds_raise_errno(NULL);
        goto fail;
    }
    if ((watch && add_watches(&s, watch) < 0) || listen_on(&s, path) < 0)
        goto fail;
    if (server_watch_fd(&s, s.listen_fd, TAG_LISTEN, EPOLLIN) != 0 ||
        server_watch_fd(&s, s.signal_fd, TAG_SIGNAL, EPOLLIN) != 0 ||
        server_watch_fd(&s, s.started_read, TAG_STARTED, EPOLLIN) != 0 ||
        (s.watch && server_watch_fd(&s, pycds_watch_fd(s.watch), TAG_WATCH,
                                    EPOLLIN) != 0)) {
        pycds_raise_errno(NULL);
        goto fail;
    }
    server_log("serving on %s (%zu directories watched, pool %d, idle "
               "time-out %.0f s)",
               path, s.watch ? pycds_watch_count(s.watch) : (size_t)0, pool,
               idle_timeout);

    if (loop(&s)) {
        /* A program's process: everything of the server is closed. */
        os_array_free(&s.children);
        os_array_free(&s.pending);
        os_array_free(&s.closing);
        return pycds_child_receive(s.program_conn, s.started_write);
    }
    server_log("exiting: %s", s.reason);
    PyObject *result = PyUnicode_FromString(s.reason);
    release(&s);
    return result;
fail:
    release(&s);
    return NULL;
}
