/*
 * session.c - one program's conversation with its server (run/wire.h):
 * connect, check that the server is this user's, send the request with the
 * program's descriptors, and wait for READY; answer GO, then wait for the
 * program's end and end the same way.
 *
 * Until GO the program has not started, so any failure up to then returns
 * to the caller, which runs python itself: never a lost run, never a run
 * twice (a client that gave up never sends GO, and its program's process
 * exits when it finds the connection closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* How long the server has to fork the program's process and set it up. */
#define READY_TIMEOUT_MS 10000

static char why_buffer[RUN_DIAG_SIZE + 64];

static const char *because(const char *format, const char *detail)
{
    snprintf(why_buffer, sizeof why_buffer, format, detail);
    return why_buffer;
}

/* Connect to the server's socket; -1 with errno when nobody listens. */
static int connect_socket(const char *path)
{
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    struct timeval limit = {READY_TIMEOUT_MS / 1000, 0};
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
    if (connect(sock, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(sock);
        errno = saved;
        return -1;
    }
    return sock;
}

/* The server must run as this user: the directory is private, and the
 * peer's credentials say so too (a socket given by PYCDSSOCKET may be
 * anywhere). */
static const char *check_server(int sock, const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        st.st_uid != geteuid())
        return "the server's socket is not this user's";
    struct ucred peer;
    socklen_t size = sizeof peer;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
        peer.uid != geteuid())
        return "the server runs as another user";
    return NULL;
}

static void fill_request(const client *c, run_request *r)
{
    memset(r, 0, sizeof *r);
    r->mode = c->cmdline.mode;
    mode_t mask = umask(0);
    umask(mask);
    r->umask = mask;
    r->ignored_signals = signals_ignored();
    r->blocked_signals = signals_blocked();
    for (int i = 0; i < c->n_fds && i < 3; i++) {
        struct winsize ws;
        if (ioctl(c->fds[i], TIOCGWINSZ, &ws) == 0) {
            r->rows = ws.ws_row;
            r->cols = ws.ws_col;
            break;
        }
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    r->nice = errno ? 0 : nice;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
        r->n_cpu_words = RUN_CPU_WORDS;
        memcpy(r->cpus, &cpus,
               sizeof cpus < sizeof r->cpus ? sizeof cpus : sizeof r->cpus);
    }
    for (int resource = 0;
         resource < RLIM_NLIMITS && r->n_limits < RUN_MAX_LIMITS; resource++) {
        struct rlimit limit;
        if (getrlimit(resource, &limit) != 0)
            continue;
        run_limit *l = &r->limits[r->n_limits++];
        l->resource = (uint32_t)resource;
        l->soft = limit.rlim_cur;
        l->hard = limit.rlim_max;
    }
    r->n_fds = (uint32_t)c->n_fds;
    for (int i = 0; i < c->n_fds; i++)
        r->fd_numbers[i] = c->fds[i];
    /* For stdin and the REPL, sys.argv[0]: "-" or "". */
    r->target = c->cmdline.target ? c->cmdline.target : c->cmdline.argv0;
    r->n_options = (uint32_t)c->cmdline.n_options;
    r->options = c->cmdline.options;
    r->n_args = (uint32_t)(c->argc - 1 - c->cmdline.first_arg);
    r->args = (const char *const *)c->argv + 1 + c->cmdline.first_arg;
    uint32_t n_env = 0;
    while (c->envp[n_env])
        n_env++;
    r->n_env = n_env;
    r->env = (const char *const *)c->envp;
}

/* Send the request; NULL, or why the program cannot be sent. */
static const char *send_request(const client *c, int sock)
{
    char cwd[PATH_MAX];
    run_request r;
    fill_request(c, &r);
    r.cwd = getcwd(cwd, sizeof cwd) ? cwd : "";
    int cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd_fd < 0)
        return because("the current directory cannot be opened%s", "");
    run_buffer body = {0};
    run_diag diag;
    run_status status = run_request_encode(&r, &body, &diag);
    if (status == RUN_OK)
        status = run_send(sock, RUN_MSG_REQUEST, body.bytes.items,
                          (uint32_t)body.bytes.count, &cwd_fd, 1, &diag);
    run_buffer_free(&body);
    close(cwd_fd);
    return status == RUN_OK ? NULL
                            : because("request not sent: %s", diag.message);
}

__attribute__((noreturn)) static void server_died(int pidfd)
{
    /* The program cannot be reported on: make sure it is gone too. */
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    if (message_fd >= 0)
        dprintf(message_fd, "pycds-run: the server exited while the program "
                            "ran; its exit status is lost\n");
    _exit(1);
}

/*
 * The program has its own copies of the descriptors now: let go of ours,
 * so that a reader sees the end of the program's output when the program
 * closes it, not when the client exits (standard streams become
 * /dev/null; messages go to a private copy of standard error).
 */
static void release_fds(const client *c)
{
    message_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < c->n_fds; i++) {
        int fd = c->fds[i];
        if (fd <= 2 && null >= 0)
            dup2(null, fd);
        else if (fd > 2)
            close(fd);
    }
    if (null > 2)
        close(null);
}

/* After GO: wait for the end (never returns). */
__attribute__((noreturn)) static void wait_for_end(const client *c, int sock,
                                                   int pidfd)
{
    for (;;) {
        run_frame frame;
        run_diag diag;
        run_status status = run_recv(sock, &frame, -1, &diag);
        if (status != RUN_OK) {
            say(c, 1, "connection to the server: %s", diag.message);
            server_died(pidfd);
        }
        if (frame.type == RUN_MSG_EXIT) {
            run_exit how;
            if (run_exit_decode(frame.body, frame.length, &how) == RUN_OK)
                signals_exit_like(&how);
            server_died(pidfd);
        }
        if (frame.type == RUN_MSG_STOPPED) {
            int32_t sig;
            if (run_i32_decode(frame.body, frame.length, &sig) == RUN_OK &&
                sig > 0 && sig < 65)
                signals_stop_self(sig);
        }
        run_frame_release(&frame);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect, retrying while a server starts (up to wait_ms). */
static int connect_waiting(const client *c, const char *path, const char *dir,
                           const char *key, int wait_ms, const char **why)
{
    int64_t deadline = now_ms() + wait_ms;
    int pause_us = 2000;
    for (;;) {
        int sock = connect_socket(path);
        if (sock >= 0)
            return sock;
        int missing = errno == ENOENT || errno == ECONNREFUSED;
        if (!missing) {
            int saved = errno;
            *why = because("cannot connect to the server: %s", strerror(saved));
            errno = saved;
            return -1;
        }
        if (wait_ms <= 0 || now_ms() >= deadline ||
            (key && !server_alive(dir, key))) {
            *why = "no server is running";
            errno = ENOENT;
            return -1;
        }
        say(c, 2, "waiting for the server to start");
        usleep((useconds_t)pause_us);
        if (pause_us < 50000)
            pause_us *= 2;
    }
}

session_outcome session_run(client *c, const char *socket_path, const char *dir,
                            const char *key, int wait_ms, const char **why)
{
    int sock = connect_waiting(c, socket_path, dir, key, wait_ms, why);
    if (sock < 0)
        return errno == ENOENT || errno == ECONNREFUSED ? SESSION_NO_SERVER
                                                        : SESSION_FAILED;
    if ((*why = check_server(sock, socket_path)) != NULL ||
        (*why = send_request(c, sock)) != NULL) {
        close(sock);
        return SESSION_FAILED;
    }
    run_frame frame;
    run_diag diag;
    if (run_recv(sock, &frame, READY_TIMEOUT_MS, &diag) != RUN_OK) {
        *why = because("no answer from the server: %s", diag.message);
        close(sock);
        return SESSION_FAILED;
    }
    int32_t pid;
    if (frame.type != RUN_MSG_READY || frame.n_fds != 1 ||
        run_i32_decode(frame.body, frame.length, &pid) != RUN_OK) {
        if (frame.type == RUN_MSG_PLAIN || frame.type == RUN_MSG_STALE)
            *why = because(
                frame.type == RUN_MSG_STALE ? "the server is stale (%s)" : "%s",
                frame.body ? (const char *)frame.body : "");
        else
            *why = "unexpected answer from the server";
        session_outcome outcome =
            frame.type == RUN_MSG_STALE ? SESSION_STALE : SESSION_FAILED;
        run_frame_release(&frame);
        close(sock);
        return outcome;
    }
    int pidfd = frame.fds[0];
    frame.n_fds = 0;
    run_frame_release(&frame);
    signals_forward(pidfd, pid);
    /* The program's descriptors travel with GO: a server that never
     * answers holds none of them. */
    if (run_send(sock, RUN_MSG_GO, NULL, 0, c->fds, c->n_fds, &diag) !=
        RUN_OK) {
        /* The program's process saw us gone and exits without running. */
        signals_restore();
        *why = because("the program did not start: %s", diag.message);
        close(pidfd);
        close(sock);
        return SESSION_FAILED;
    }
    release_fds(c);
    wait_for_end(c, sock, pidfd);
}
