/*
 * start.c - starting a server in the background on first use.
 *
 * The key's lock file says whether a server for the key is running or
 * starting: the server holds an exclusive lock on it for its whole life.
 * A client that finds no server takes the lock itself, without waiting,
 * and hands it to the server it starts; a client that cannot take it knows
 * another one is starting, so two clients never start two servers.
 *
 * The server is detached: a new session (no terminal), its output to the
 * key's log, the caller's environment unchanged (the key is computed from
 * it on both sides), default signal dispositions.  Starting it costs the
 * caller two forks of this small process; the caller never waits for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "run/server.h"

/* Fill diag with status and a formatted line; -1, for the caller to
 * return. */
static int fail(run_diag *diag, run_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(run_diag *diag, run_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    diag->status = status;
    vsnprintf(diag->message, sizeof diag->message, format, args);
    va_end(args);
    return -1;
}

static int open_lock(const char *dir, const char *key, run_diag *diag)
{
    char path[PATH_MAX];
    if (run_server_file_path(path, sizeof path, dir, key, RUN_FILE_LOCK,
                             diag) != RUN_OK)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail(diag, RUN_E_IO, "%.200s: %s", path, strerror(errno));
    return fd;
}

int server_alive(const char *dir, const char *key)
{
    run_diag diag;
    int fd = open_lock(dir, key, &diag);
    if (fd < 0)
        return 0;
    int alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return alive;
}

/*
 * Whether the key's server failed to start (it refused: threads, CUDA, an
 * import error) less than RUN_FAILED_BACKOFF_SECONDS ago; why, in why.
 * Starting it again at every run would import the preload set in the
 * background each time.
 */
static int recently_failed(const char *dir, const char *key, char *why,
                           size_t size)
{
    char path[PATH_MAX];
    return run_server_file_path(path, sizeof path, dir, key, RUN_FILE_FAILED,
                                NULL) == RUN_OK &&
           run_failed_note_read(path, why, size);
}

/* In the detached grandchild: become the server (never returns). */
static void become_server(const client *c, const char *dir, const char *key,
                          int lock)
{
    /* Default dispositions and an empty mask, as a fresh program. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig <= 64; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The caller's soft limits (a CPU-time or memory limit meant for one
     * program) must not end the server: up to the hard limits.  Each
     * program gets its own caller's limits back.  The stack's stays: it
     * shapes the server's threads, and programs with another are run by
     * python. */
    for (int resource = 0; resource < RLIM_NLIMITS; resource++) {
        struct rlimit limit;
        if (resource != RLIMIT_STACK && getrlimit(resource, &limit) == 0 &&
            limit.rlim_cur != limit.rlim_max) {
            limit.rlim_cur = limit.rlim_max;
            setrlimit(resource, &limit);
        }
    }

    char log_path[PATH_MAX];
    run_diag diag;
    if (run_server_file_path(log_path, sizeof log_path, dir, key, RUN_FILE_LOG,
                             &diag) != RUN_OK)
        _exit(1);
    /* The lock first out of the way of 0-3 (the caller may have started
     * with any of them closed), then each in its place; dup2 leaves the
     * copies inheritable. */
    lock = fcntl(lock, F_DUPFD_CLOEXEC, 10);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* Appended to (a stale server may still be finishing into it), but
     * kept short. */
    int log = open(
        log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (log >= 0 && fstat(log, &st) == 0 && st.st_size > (1 << 20) &&
        ftruncate(log, 0) != 0)
        _exit(1);
    if (lock < 0 || null < 0 || log < 0 || dup2(null, 0) < 0 ||
        dup2(log, 1) < 0 || dup2(log, 2) < 0 ||
        dup2(lock, RUN_SERVE_LOCK_FD) < 0)
        _exit(1);
    syscall(SYS_close_range, RUN_SERVE_LOCK_FD + 1, ~0U, 0);
    if (chdir(dir) != 0)
        _exit(1);

    const char *args[RUN_SERVE_MAX_ARGS];
    if (run_server_command(c->python, c->cmdline.options, c->cmdline.n_options,
                           c->preload, c->archive, args) < 0)
        _exit(1);
    execve(c->python, (char *const *)args, c->envp);
    dprintf(2, "pycds-run: cannot start %s: %s\n", c->python, strerror(errno));
    _exit(127);
}

int start_server(const client *c, const char *dir, const char *key,
                 run_diag *diag)
{
    char why[200];
    if (recently_failed(dir, key, why, sizeof why)) {
        char log[PATH_MAX] = "";
        run_server_file_path(log, sizeof log, dir, key, RUN_FILE_LOG, NULL);
        return fail(diag, RUN_E_UNSERVABLE,
                    "the server for this failed to start: %s (see %s)", why,
                    log);
    }
    int lock = open_lock(dir, key, diag);
    if (lock < 0)
        return -1;
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        close(lock);
        if (saved == EWOULDBLOCK)
            return 0; /* another client is starting it */
        return fail(diag, RUN_E_IO, "lock: %s", strerror(saved));
    }
    pid_t middle = fork();
    if (middle < 0) {
        int saved = errno;
        close(lock);
        return fail(diag, RUN_E_IO, "fork: %s", strerror(saved));
    }
    if (middle == 0) {
        /* A new session, then fork again so that the server is nobody's
         * child here (init reaps it) and can never regain a terminal. */
        setsid();
        pid_t server = fork();
        if (server == 0)
            become_server(c, dir, key, lock);
        _exit(server < 0 ? 1 : 0);
    }
    close(lock); /* the server's copy keeps the lock */
    int status;
    while (waitpid(middle, &status, 0) < 0 && errno == EINTR)
        ;
    return 1;
}
