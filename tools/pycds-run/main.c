/*
 * main.c - pycds-run: a drop-in for python that runs the program in a
 * process forked from a server that has already imported the modules it
 * needs (its preload set).
 *
 *   pycds-run [--preload LIST] [--archive IMG] [python arguments]
 *
 * The preload set comes from --preload or PYCDSPRELOAD; the interpreter is
 * PYCDSPYTHON, else `python` beside this executable (its virtual
 * environment's), else the interpreter pip built it with.  A launcher made by
 * `python -m pycds bundle` carries all three in its embedded configuration.
 * Anything the server could not run exactly as python would (README: "Drop-in,
 * or python itself") is run by python itself, by exec, with one line at
 * PYCDSVERBOSE>=1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "run/server.h"
#include "run/variables.h"

/* Filled in by `python -m pycds bundle` in a launcher's copy; external and
 * written nowhere here, so the compiler cannot fold it away. */
__attribute__((used)) run_bundle_config pycds_run_launcher = {
    .marker = RUN_BUNDLE_MARKER,
};

/* The descriptors this process was started with: the program's own. */
static int collect_fds(client *c)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        for (int fd = 0; fd < 256; fd++)
            if (fcntl(fd, F_GETFD) >= 0) {
                if (c->n_fds == RUN_MAX_FDS)
                    return -1;
                c->fds[c->n_fds++] = fd;
            }
        return 0;
    }
    char buffer[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
        if (n <= 0)
            break;
        for (long at = 0; at < n;) {
            struct dirent64 *entry = (struct dirent64 *)(buffer + at);
            at += entry->d_reclen;
            char *end;
            long fd = strtol(entry->d_name, &end, 10);
            if (*end || end == entry->d_name || fd == dir)
                continue;
            if (c->n_fds == RUN_MAX_FDS) {
                close(dir);
                return -1;
            }
            c->fds[c->n_fds++] = (int)fd;
        }
    }
    close(dir);
    return 0;
}

/* The interpreter: the launcher's, PYCDSPYTHON, or `python` beside us. */
static int find_python(client *c)
{
    if (pycds_run_launcher.filled) {
        snprintf(c->python, sizeof c->python, "%s", pycds_run_launcher.python);
        return 0;
    }
    const char *given = run_variable_get(RUN_VAR_PYTHON);
    if (given) {
        snprintf(c->python, sizeof c->python, "%s", given);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    if ((size_t)snprintf(c->python, sizeof c->python, "%s/python", self) >=
        sizeof c->python)
        return -1;
#ifdef PYCDS_RUN_PYTHON
    /* Installed where no python lies beside it (pip --user, a system
     * install): the interpreter that installed it. */
    if (access(c->python, X_OK) != 0)
        snprintf(c->python, sizeof c->python, "%s", PYCDS_RUN_PYTHON);
#endif
    return 0;
}

/* A relative PYTHONPATH entry means the caller's directory in python but
 * the server's in the server. */
static int relative_pythonpath(void)
{
    const char *path = getenv("PYTHONPATH");
    if (!path || !path[0])
        return 0;
    for (const char *at = path; *at;) {
        size_t n = strcspn(at, ":");
        if (n == 0 || at[0] != '/')
            return 1;
        at += n + (at[n] == ':');
    }
    return 0;
}

/* pycds-run's own options, which come first: --preload and --archive
 * (the launcher's configuration wins).  The index of python's first
 * argument. */
static int own_options(int argc, char **argv, const char **preload,
                       const char **archive)
{
    *preload = run_variable_get(RUN_VAR_PRELOAD);
    *archive = NULL;
    int at = 1;
    while (at < argc) {
        if (strcmp(argv[at], "--preload") == 0 && at + 1 < argc) {
            *preload = argv[at + 1];
            at += 2;
        } else if (strncmp(argv[at], "--preload=", 10) == 0) {
            *preload = argv[at++] + 10;
        } else if (strcmp(argv[at], "--archive") == 0 && at + 1 < argc) {
            *archive = argv[at + 1];
            at += 2;
        } else if (strncmp(argv[at], "--archive=", 10) == 0) {
            *archive = argv[at++] + 10;
        } else {
            break;
        }
    }
    if (pycds_run_launcher.filled) {
        *preload = pycds_run_launcher.preload;
        *archive = pycds_run_launcher.archive;
    }
    return at;
}

/* Fill in the client from pycds-run's command line: the interpreter,
 * python's argv (the interpreter, then the arguments after ours), the
 * preload set and archive in their normal forms, and python's command
 * line parsed. */
static void set_up(client *c, int argc, char **argv)
{
    const char *preload, *archive;
    int at = own_options(argc, argv, &preload, &archive);
    if (find_python(c) != 0) {
        dprintf(2, "pycds-run: cannot tell which python to run (set "
                   "PYCDSPYTHON)\n");
        exit(127);
    }
    c->argc = argc - at + 1;
    c->argv = calloc((size_t)c->argc + 1, sizeof *c->argv);
    if (!c->argv)
        exit(127);
    c->argv[0] = c->python;
    memcpy(c->argv + 1, argv + at, sizeof *argv * (size_t)(argc - at));

    run_diag diag;
    if (run_preload_normalize(preload, c->preload, sizeof c->preload, &diag) !=
        RUN_OK)
        run_plain(c, diag.message);
    if (run_absolute_path(archive, c->archive, sizeof c->archive, &diag) !=
        RUN_OK)
        run_plain(c, diag.message);
    run_cmdline_parse(c->argc - 1, c->argv + 1, isatty(0), &c->cmdline);
}

/* Run python itself when no preloaded interpreter can serve this program
 * exactly as python would (README: "Drop-in, or python itself"). */
static void check_servable(const client *c, int too_many_fds)
{
    if (c->cmdline.plain)
        run_plain(c, c->cmdline.plain);
    const char *variable = run_env_forcing_plain(c->envp);
    if (variable)
        run_plain(c, variable);
    if (relative_pythonpath())
        run_plain(c, "PYTHONPATH has a relative entry");
    if (too_many_fds)
        run_plain(c, "more open descriptors than can be passed");
}

/* Run the program through the server found by its key, starting that
 * server when none runs (never returns). */
__attribute__((noreturn)) static void run_keyed(client *c)
{
    char key[RUN_KEY_SIZE], dir[PATH_MAX], socket_path[PATH_MAX];
    char log[PATH_MAX];
    run_key_input input = {
        .python = c->python,
        .options = c->cmdline.options,
        .n_options = c->cmdline.n_options,
        .preload = c->preload,
        .archive = c->archive,
        .env = (const char *const *)c->envp,
    };
    while (c->envp[input.n_env])
        input.n_env++;
    run_diag diag;
    if (run_key(&input, key, &diag) != RUN_OK ||
        run_dir(dir, sizeof dir, 1, &diag) != RUN_OK ||
        run_server_file_path(socket_path, sizeof socket_path, dir, key,
                             RUN_FILE_SOCKET, &diag) != RUN_OK ||
        run_server_file_path(log, sizeof log, dir, key, RUN_FILE_LOG, &diag) !=
            RUN_OK)
        run_plain(c, diag.message);

    const char *why = NULL;
    session_outcome outcome = session_run(c, socket_path, dir, key, 0, &why);
    if (outcome == SESSION_FAILED)
        run_plain(c, why);
    int started = start_server(c, dir, key, &diag);
    if (started < 0)
        run_plain(c, diag.message);
    say(c, 1,
        started ? "started a server for %s (log: %s)"
                : "a server for %s is starting",
        c->preload[0] ? c->preload : "no preload", log);
    const char *wait = run_variable_get(RUN_VAR_WAIT);
    if (strcmp(wait, "0") != 0) {
        session_run(c, socket_path, dir, key, 120000, &why);
        run_plain(c, why);
    }
    run_plain(c, outcome == SESSION_STALE ? why : "no server was running");
}

int main(int argc, char **argv, char **envp)
{
    signals_capture();
    static client c;
    c.envp = envp;
    c.verbose = atoi(run_variable_get(RUN_VAR_VERBOSE));
    int too_many_fds = collect_fds(&c) != 0;
    set_up(&c, argc, argv);
    check_servable(&c, too_many_fds);
    const char *explicit_socket = run_variable_get(RUN_VAR_SOCKET);
    if (explicit_socket) {
        const char *why = NULL;
        session_run(&c, explicit_socket, NULL, NULL, 0, &why);
        run_plain(&c, why);
    }
    run_keyed(&c);
}
