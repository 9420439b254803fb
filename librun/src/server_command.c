/*
 * server_command.c - the command line a client starts a server with, and
 * the bound on a server's pool.  pycds's argparse reads the command line
 * (pycds/__main__.py takes the hidden options' names from here).
 */
#include "internal.h"
#include "run/server.h"

run_status run_pool_check(long pool, run_diag *diag)
{
    if (pool < 0 || pool > RUN_POOL_MAX)
        return run_fail(diag, RUN_E_INVALID,
                        "pool: %ld processes; it takes 0 to %d", pool,
                        RUN_POOL_MAX);
    return RUN_OK;
}

int run_server_command(const char *python, const char *const *options,
                       int n_options, const char *preload, const char *archive,
                       const char *argv[RUN_SERVE_MAX_ARGS])
{
    if (n_options < 0 || n_options > RUN_MAX_OPTIONS)
        return -1;
    int n = 0;
    argv[n++] = python;
    for (int i = 0; i < n_options; i++)
        argv[n++] = options[i];
    argv[n++] = "-m";
    argv[n++] = "pycds";
    argv[n++] = "serve";
    argv[n++] = "--preload";
    argv[n++] = preload ? preload : "";
    if (archive && archive[0]) {
        argv[n++] = "--archive";
        argv[n++] = archive;
    }
    /* The lock is always on the same descriptor: the option is a constant
     * string, and the client puts the lock there. */
#define STRING(x) #x
#define EXPAND(x) STRING(x)
    argv[n++] = RUN_SERVE_LOCK_FD_OPTION "=" EXPAND(RUN_SERVE_LOCK_FD);
#undef EXPAND
#undef STRING
    /* The path the client runs python by, which its key names (a shim or
     * a symbolic link may make the server's sys.executable differ). */
    argv[n++] = RUN_SERVE_KEY_PYTHON_OPTION;
    argv[n++] = python;
    argv[n] = NULL;
    return n;
}
