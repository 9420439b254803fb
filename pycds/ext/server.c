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
 * Children: each program's process leads its own process group (job
 * control works on it and its children), dies with the server
 * (PR_SET_PDEATHSIG), and is reaped here; nothing is left a zombie.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "error.h"
#include "pages.h"
#include "run/run.h"
#include "watch.h"

enum tag {
    TAG_LISTEN = 1,
    TAG_SIGNAL,
    TAG_WATCH,
    TAG_PENDING,
    TAG_CONN,
    TAG_STARTED
};

typedef struct child {
    pid_t pid;
    int conn;    /* the client's connection, -1 when none (yet) */
    int client;  /* a pidfd of the client, -1 when none */
    int channel; /* an idle pool child's channel, -1 otherwise */
} child;

/* A connection accepted whose first frame has not been seen yet. */
typedef struct pending_conn {
    int fd;
    int client; /* a pidfd of the client (from SO_PEERCRED), or -1 */
} pending_conn;

typedef struct server {
    int listen_fd, epoll_fd, signal_fd, lock_fd;
    /* Each program's process writes its pid here when its program starts
     * (after GO): the count of programs run, as opposed to requests. */
    int started_read, started_write;
    pycds_watch *watch;
    char socket_path[108];
    dev_t socket_dev;
    ino_t socket_ino;
    sigset_t original_mask;
    child *children;
    size_t n_children, capacity;
    pending_conn *pending;
    size_t n_pending, pending_capacity;
    /* Descriptors closed once the current batch of events is handled, so
     * that no number is reused (by accept) while an event may name it. */
    int *closing;
    size_t n_closing, closing_capacity;
    struct timespec refill_after; /* the pool's back-off after a failure */
    int pool_size;
    double idle_timeout;
    struct timespec started_at, last_activity;
    unsigned long requests, started;
    int stale, draining, signalled, kill_all;
    char reason[512];
    const char *info;
    const char *pages; /* the learnt pages' list, or "" */
    PyObject *ahead;   /* called in a pool child before it waits, or NULL */
    /* Set in a program's process: the connection it serves. */
    int program_conn;
} server;

/* ------------------------------------------------------------------ log */

static void log_line(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

static void log_line(const char *format, ...)
{
    char line[1024];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02d %02d:%02d:%02d "
                     "pycds serve[%ld]: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long)getpid());
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

static double since(const struct timespec *then)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - then->tv_sec) +
           (double)(now.tv_nsec - then->tv_nsec) / 1e9;
}

static int watch_fd_of(server *s, int fd, enum tag tag, uint32_t events)
{
    struct epoll_event e = {.events = events,
                            .data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd};
    return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &e);
}

static void reply_text(int conn, run_message type, const char *text)
{
    run_send(conn, type, text, (uint32_t)strlen(text) + 1, NULL, 0, NULL);
}

static child *find_child(server *s, pid_t pid)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].pid == pid)
            return &s->children[i];
    return NULL;
}

static child *child_by_conn(server *s, int conn)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].conn == conn)
            return &s->children[i];
    return NULL;
}

static child *add_child(server *s, pid_t pid, int conn, int client, int channel)
{
    if (s->n_children == s->capacity) {
        size_t capacity = s->capacity ? s->capacity * 2 : 16;
        child *grown = realloc(s->children, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        s->children = grown;
        s->capacity = capacity;
    }
    child *c = &s->children[s->n_children++];
    c->pid = pid;
    c->conn = conn;
    c->client = client;
    c->channel = channel;
    return c;
}

static void remove_child(server *s, child *c)
{
    if (c->client >= 0)
        close(c->client);
    *c = s->children[--s->n_children];
}

/* Stop watching fd and close it after this batch of events. */
static void close_later(server *s, int fd)
{
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    if (s->n_closing == s->closing_capacity) {
        size_t capacity = s->closing_capacity ? s->closing_capacity * 2 : 16;
        int *grown = realloc(s->closing, capacity * sizeof *grown);
        if (!grown) {
            close(fd); /* no room to wait: at once, as before */
            return;
        }
        s->closing = grown;
        s->closing_capacity = capacity;
    }
    s->closing[s->n_closing++] = fd;
}

static void close_deferred(server *s)
{
    for (size_t i = 0; i < s->n_closing; i++)
        close(s->closing[i]);
    s->n_closing = 0;
}

static size_t count_running(const server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_children; i++)
        n += s->children[i].channel < 0;
    return n;
}

static size_t count_idle(const server *s)
{
    return s->n_children - count_running(s);
}

/* ------------------------------------------------------------- forking */

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
    for (size_t i = 0; i < s->n_pending; i++) {
        if (s->pending[i].fd != keep_fd)
            close(s->pending[i].fd);
        if (s->pending[i].client >= 0)
            close(s->pending[i].client);
    }
    for (size_t i = 0; i < s->n_children; i++) {
        if (s->children[i].conn >= 0 && s->children[i].conn != keep_fd)
            close(s->children[i].conn);
        if (s->children[i].channel >= 0 && s->children[i].channel != keep_fd)
            close(s->children[i].channel);
        if (s->children[i].client >= 0)
            close(s->children[i].client);
    }
    for (size_t i = 0; i < s->n_closing; i++)
        if (s->closing[i] != keep_fd)
            close(s->closing[i]);
    s->n_children = s->n_pending = s->n_closing = 0;
    sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server_pid)
        _exit(0); /* the server is already gone */
}

/* fork() with the interpreter's own before/after steps (those of
 * os.fork: locks, at-fork callbacks such as random's reseeding). */
static pid_t fork_process(server *s, int keep_fd)
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
    clock_gettime(CLOCK_MONOTONIC, &s->refill_after);
    s->refill_after.tv_sec += 1;
}

/* Fork one more idle child for the pool.  1 in the child (then
 * s->program_conn is its connection), 0 in the server. */
static int spawn_pool_child(server *s)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        log_line("pool: socketpair: %s", strerror(errno));
        back_off(s);
        return 0;
    }
    pid_t pid = fork_process(s, pair[1]);
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
    if (pid < 0 || !add_child(s, pid, -1, -1, pair[0])) {
        log_line("pool: fork: %s", strerror(errno));
        close(pair[0]);
        if (pid > 0)
            kill(pid, SIGKILL);
        back_off(s);
    }
    return 0;
}

/* ------------------------------------------------------------ stopping */

static void stop_accepting(server *s, const char *why, int stale)
{
    if (s->draining)
        return;
    s->draining = 1;
    s->stale = stale;
    snprintf(s->reason, sizeof s->reason, "%s", why);
    log_line("%s; finishing %zu running program(s)", why, count_running(s));
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
        reply_text(conn, stale ? RUN_MSG_STALE : RUN_MSG_PLAIN, why);
        close(conn);
    }
    close(s->listen_fd);
    s->listen_fd = -1;
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
    }
    /* Idle pool children are not needed: closing the channel ends them. */
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].channel >= 0) {
            close_later(s, s->children[i].channel);
            s->children[i].channel = -2; /* reaped below, reports nothing */
        }
    for (size_t i = 0; i < s->n_pending; i++) {
        reply_text(s->pending[i].fd, stale ? RUN_MSG_STALE : RUN_MSG_PLAIN,
                   why);
        close_later(s, s->pending[i].fd);
        if (s->pending[i].client >= 0)
            close(s->pending[i].client);
    }
    s->n_pending = 0;
}

/* Read the watch: 1 when the preloaded code changed (then draining). */
static int check_stale(server *s)
{
    char why[512];
    if (s->stale)
        return 1;
    if (!s->watch || !pycds_watch_changed(s->watch, why, sizeof why))
        return 0;
    char line[600];
    snprintf(line, sizeof line, "stale: %s", why);
    stop_accepting(s, line, 1);
    return 1;
}

/* ------------------------------------------------------------ requests */

/* Forget a pending connection; the client's pidfd, now the caller's. */
static int drop_pending(server *s, int conn)
{
    int client = -1;
    for (size_t i = 0; i < s->n_pending; i++)
        if (s->pending[i].fd == conn) {
            client = s->pending[i].client;
            s->pending[i] = s->pending[--s->n_pending];
            break;
        }
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, conn, NULL);
    return client;
}

static void status_text(server *s, char *out, size_t size)
{
    snprintf(out, size,
             "pid: %ld\nuptime: %.0f s\nrequests: %lu\nprograms run: %lu\n"
             "running: %zu\npool idle: %zu of %d\nstate: %s\n%s",
             (long)getpid(), since(&s->started_at), s->requests, s->started,
             count_running(s), count_idle(s), s->pool_size,
             s->draining ? s->reason : "serving", s->info);
}

/* Hand a program's connection to an idle pool child, or fork one for it.
 * Returns 1 in the program's process. */
static int start_program(server *s, int conn, int client)
{
    for (size_t i = 0; i < s->n_children; i++) {
        child *c = &s->children[i];
        if (c->channel < 0)
            continue;
        if (run_send(c->channel, RUN_MSG_HANDOFF, NULL, 0, &conn, 1, NULL) ==
            RUN_OK) {
            close_later(s, c->channel);
            c->channel = -1;
            c->conn = conn;
            c->client = client;
            return 0;
        }
        /* That child is gone; it is reaped when its SIGCHLD comes. */
        close_later(s, c->channel);
        c->channel = -2;
    }
    pid_t pid = fork_process(s, conn);
    if (pid == 0) {
        if (client >= 0)
            close(client); /* the server's, not yet in its table */
        s->program_conn = conn;
        return 1;
    }
    if (pid < 0 || !add_child(s, pid, conn, client, -1)) {
        log_line("fork: %s", strerror(errno));
        reply_text(conn, RUN_MSG_PLAIN, "the server cannot fork");
        close_later(s, conn);
        if (client >= 0)
            close(client);
        if (pid > 0)
            kill(pid, SIGKILL);
        return -1;
    }
    return 0;
}

static void control(server *s, int conn);

/* The first frame of a new connection has (maybe) arrived: act on it.
 * Returns 1 in a program's process. */
static int on_pending(server *s, int conn)
{
    int known = 0;
    for (size_t i = 0; i < s->n_pending; i++)
        known |= s->pending[i].fd == conn;
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
        clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
        if (check_stale(s)) {
            reply_text(conn, RUN_MSG_STALE, s->reason);
        } else {
            s->requests++;
            int started = start_program(s, conn, client);
            if (started == 1)
                return 1;
            if (started == 0) {
                /* From now on only the client's departure matters. */
                watch_fd_of(s, conn, TAG_CONN, EPOLLRDHUP);
                return 0;
            }
            return 0; /* refused, and closed, by start_program */
        }
    } else if (n > 0 && (header.magic != RUN_WIRE_MAGIC ||
                         header.version != RUN_WIRE_VERSION)) {
        reply_text(conn, RUN_MSG_PLAIN,
                   "the server speaks another version of the protocol");
    } else if (n > 0) {
        control(s, conn);
    }
    if (client >= 0)
        close(client);
    close_later(s, conn);
    return 0;
}

/* A control message (STATUS_QUERY, STOP) on conn: answer it. */
static void control(server *s, int conn)
{
    run_frame frame;
    if (run_recv(conn, &frame, 1000, NULL) != RUN_OK)
        return;
    if (frame.type == RUN_MSG_STOP)
        stop_accepting(s, "stopped on request", 0);
    if (frame.type == RUN_MSG_STOP || frame.type == RUN_MSG_STATUS_QUERY) {
        char text[4096];
        status_text(s, text, sizeof text);
        reply_text(conn, RUN_MSG_STATUS, text);
    }
    run_frame_release(&frame);
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
            log_line("refused a connection from uid %ld (pid %ld)",
                     (long)peer.uid, (long)peer.pid);
            close(conn);
            continue;
        }
        if (s->n_pending == s->pending_capacity) {
            size_t capacity =
                s->pending_capacity ? s->pending_capacity * 2 : 16;
            pending_conn *grown = realloc(s->pending, capacity * sizeof *grown);
            if (!grown) {
                close(conn);
                continue;
            }
            s->pending = grown;
            s->pending_capacity = capacity;
        }
        /* A pidfd of the client, to continue it when its program is
         * continued (job control); safe from pid reuse. */
        int client = (int)syscall(SYS_pidfd_open, peer.pid, 0);
        s->pending[s->n_pending++] = (pending_conn){conn, client};
        watch_fd_of(s, conn, TAG_PENDING, EPOLLIN | EPOLLRDHUP);
        /* The client sends its request right after connecting: it is
         * usually here already, and needs no other turn of the loop. */
        if (on_pending(s, conn))
            return 1;
        if (s->draining)
            return 0;
    }
}

/* The client of a running program is gone: so is its program. */
static void on_conn_closed(server *s, int conn)
{
    child *c = child_by_conn(s, conn);
    if (!c)
        return; /* handled earlier in this batch of events */
    close_later(s, conn);
    c->conn = -1;
    kill(c->pid, SIGKILL);
}

static void on_started(server *s)
{
    int32_t pids[256];
    ssize_t n;
    while ((n = read(s->started_read, pids, sizeof pids)) > 0)
        s->started += (unsigned long)n / sizeof pids[0];
}

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
        stop_accepting(s, why, 0);
    }
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);
        if (pid <= 0)
            break;
        child *c = find_child(s, pid);
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
            close_later(s, c->conn);
        } else if (c->channel >= 0) {
            log_line("an idle pool child (pid %ld) ended unexpectedly",
                     (long)pid);
            close_later(s, c->channel);
        }
        remove_child(s, c);
        clock_gettime(CLOCK_MONOTONIC, &s->last_activity);
    }
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
    for (size_t i = 0; i < s->n_pending; i++) {
        close(s->pending[i].fd);
        if (s->pending[i].client >= 0)
            close(s->pending[i].client);
    }
    close_deferred(s);
    free(s->closing);
    for (size_t i = 0; i < s->n_children; i++) {
        if (s->children[i].conn >= 0)
            close(s->children[i].conn);
        if (s->children[i].channel >= 0)
            close(s->children[i].channel);
    }
    free(s->children);
    free(s->pending);
    sigprocmask(SIG_SETMASK, &s->original_mask, NULL);
}

/* ----------------------------------------------------------------- loop */

/* The loop; returns 1 in a program's process, 0 when the server is done. */
static int loop(server *s)
{
    for (;;) {
        if (s->draining && (count_running(s) == 0 || s->kill_all)) {
            if (s->kill_all)
                for (size_t i = 0; i < s->n_children; i++)
                    kill(s->children[i].pid, SIGKILL);
            /* Reap what is left (idle pool children end on their own). */
            while (s->n_children > 0) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);
                if (pid < 0)
                    break;
                child *c = find_child(s, pid);
                if (c) {
                    if (c->conn >= 0) {
                        report(c->conn, status);
                        close(c->conn);
                    }
                    remove_child(s, c);
                }
            }
            return 0;
        }
        int timeout = -1;
        int refill = !s->draining && (int)count_idle(s) < s->pool_size &&
                     since(&s->refill_after) >= 0;
        if (refill) {
            timeout = 0;
        } else if (!s->draining && (int)count_idle(s) < s->pool_size) {
            timeout = 1000; /* backing off: try the pool again soon */
        } else if (s->idle_timeout > 0 && count_running(s) == 0 &&
                   s->n_pending == 0 && !s->draining) {
            double left = s->idle_timeout - since(&s->last_activity);
            timeout = left <= 0 ? 0 : (int)(left * 1000) + 1;
        }
        struct epoll_event events[64];
        int n;
        Py_BEGIN_ALLOW_THREADS
            n = epoll_wait(s->epoll_fd, events, 64, timeout);
        Py_END_ALLOW_THREADS
        if (n < 0 && errno != EINTR) {
            log_line("epoll: %s", strerror(errno));
            stop_accepting(s, "internal error", 0);
            continue;
        }
        if (n == 0 && refill) {
            if (spawn_pool_child(s))
                return 1;
            continue;
        }
        if (n == 0 && timeout >= 0 && !s->draining &&
            since(&s->last_activity) >= s->idle_timeout) {
            char why[64];
            snprintf(why, sizeof why, "idle for %.0f s", s->idle_timeout);
            stop_accepting(s, why, 0);
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
            case TAG_WATCH: check_stale(s); break;
            case TAG_PENDING:
                if (on_pending(s, fd))
                    return 1;
                break;
            case TAG_CONN: on_conn_closed(s, fd); break;
            case TAG_STARTED: on_started(s); break;
            }
        }
        close_deferred(s);
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
    PyObject *watch = NULL, *ahead = NULL;
    double idle_timeout = 600.0;
    const char *info = "", *pages = "";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$iOidssO", keywords,
                                     &path, &lock_fd, &watch, &pool,
                                     &idle_timeout, &info, &pages, &ahead))
        return NULL;
    if (ahead == Py_None)
        ahead = NULL;
    if (pool < 0 || pool > 64)
        return pycds_raise(PYCDS_ERROR_VALUE, "pool: 0 to 64 children");
    server s;
    memset(&s, 0, sizeof s);
    s.listen_fd = s.epoll_fd = s.signal_fd = -1;
    s.started_read = s.started_write = -1;
    s.lock_fd = lock_fd;
    s.program_conn = -1;
    s.pool_size = pool;
    s.idle_timeout = idle_timeout;
    s.info = info;
    s.pages = pages;
    s.ahead = ahead;
    clock_gettime(CLOCK_MONOTONIC, &s.started_at);
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
    if (watch_fd_of(&s, s.listen_fd, TAG_LISTEN, EPOLLIN) != 0 ||
        watch_fd_of(&s, s.signal_fd, TAG_SIGNAL, EPOLLIN) != 0 ||
        watch_fd_of(&s, s.started_read, TAG_STARTED, EPOLLIN) != 0 ||
        (s.watch &&
         watch_fd_of(&s, pycds_watch_fd(s.watch), TAG_WATCH, EPOLLIN) != 0)) {
        pycds_raise_errno(NULL);
        goto fail;
    }
    log_line("serving on %s (%zu directories watched, pool %d, idle "
             "time-out %.0f s)",
             path, s.watch ? pycds_watch_count(s.watch) : (size_t)0, pool,
             idle_timeout);

    if (loop(&s)) {
        /* A program's process: everything of the server is closed. */
        free(s.children);
        free(s.pending);
        free(s.closing);
        return pycds_child_receive(s.program_conn, s.started_write);
    }
    log_line("exiting: %s", s.reason);
    PyObject *result = PyUnicode_FromString(s.reason);
    release(&s);
    return result;
fail:
    release(&s);
    return NULL;
}
