/*
 * variables.c - the table of pycds's own environment variables (see
 * run/variables.h).  A new variable is one entry here (and its row in
 * README.md, which a test holds equal), plus the code that uses it.
 */
#include <stdlib.h>
#include <string.h>

#include "run/variables.h"

static const run_variable_info variables[RUN_VAR_COUNT] = {
    /* PYCDSMODE=SHARE selects a server (it shares the archive); TRACE and
     * AUTO need a process that imports for itself, so they make python
     * run the program (startenv.c reads the value). */
    [RUN_VAR_MODE] = {"PYCDSMODE", NULL, RUN_ENV_KEY,
                      "`TRACE`, `SHARE` or `AUTO`; unset: pycds does nothing"},
    [RUN_VAR_LIST] = {"PYCDSLIST", NULL, RUN_ENV_KEY,
                      "module list written by `TRACE`, read by `dump`"},
    [RUN_VAR_ARCHIVE] = {"PYCDSARCHIVE", NULL, RUN_ENV_KEY,
                         "archive written by `dump`, mapped by `SHARE`"},
    /* Not in the key: the client's explanations follow the caller's
     * value, the server's archive keeps the server's. */
    [RUN_VAR_VERBOSE] =
        {"PYCDSVERBOSE", "0", RUN_ENV_RUNTIME,
         "`1`: one line per decision on stderr (archive mapped or refused, "
         "each hit, each fallback and why, each module the finder left to "
         "plain importing and why: `pycds: plain NAME: not in the archive`; "
         "each snapshot unit restored or left to its code and why); "
         "`2`: with timings (a unit's by phase) and how each module was found"},
    [RUN_VAR_VALIDATE] =
        {"PYCDSVALIDATE", "mtime", RUN_ENV_KEY,
         "how a module's file is checked against the dump: `mtime` (size and "
         "modification time), `hash` (also an XXH3 of the contents, which "
         "catches a rewrite that keeps both; the same for the data files a "
         "snapshot unit's body opened, whose size, time and inode are "
         "checked in every mode), `none` (trust the archive: no checks of "
         "modules' files and no per-module checksums; only for immutable "
         "deployments)"},
    /* The preload set and the interpreter are in the key themselves. */
    [RUN_VAR_PRELOAD] = {"PYCDSPRELOAD", NULL, RUN_ENV_RUNTIME,
                         "`pycds-run`, `serve`: the modules a server imports "
                         "once, comma-separated (`--preload` wins)"},
    [RUN_VAR_PYTHON] = {"PYCDSPYTHON", NULL, RUN_ENV_RUNTIME,
                        "`pycds-run`: the interpreter (unset: `python` beside "
                        "`pycds-run`, its virtual environment's)"},
    [RUN_VAR_WAIT] = {"PYCDSWAIT", "0", RUN_ENV_RUNTIME,
                      "`pycds-run`: when no server runs, wait for the one it "
                      "starts instead of running python meanwhile (`1`)"},
    [RUN_VAR_SOCKET] = {"PYCDSSOCKET", NULL, RUN_ENV_RUNTIME,
                        "`pycds-run`: use the server on this socket (one "
                        "started with `serve --socket`) instead of the keyed "
                        "one"},
    [RUN_VAR_ALLOW_THREADS] = {"PYCDSALLOWTHREADS", NULL, RUN_ENV_KEY,
                               "`serve`: fork even though preloading started "
                               "threads (as `--allow-threads`; part of the "
                               "server's key)"},
    [RUN_VAR_POOL] = {"PYCDSPOOL", "0", RUN_ENV_RUNTIME,
                      "`serve`: processes forked ahead (as `--pool`), also "
                      "for a server a client starts"},
    [RUN_VAR_SNAPSHOT] = {"PYCDSSNAPSHOT", NULL, RUN_ENV_KEY,
                          "`1`: `dump` (and `AUTO`'s dump) also write "
                          "snapshot units (as `--snapshot`); `0`: `SHARE` "
                          "runs every module's code, ignoring the archive's "
                          "units"},
};

const run_variable_info *run_variable_describe(run_variable variable)
{
    return (unsigned)variable < RUN_VAR_COUNT ? &variables[variable] : NULL;
}

int run_variable_by_name(const char *name, size_t length)
{
    for (int i = 0; i < RUN_VAR_COUNT; i++)
        if (strlen(variables[i].name) == length &&
            memcmp(variables[i].name, name, length) == 0)
            return i;
    return -1;
}

const char *run_variable_get(run_variable variable)
{
    if ((unsigned)variable >= RUN_VAR_COUNT)
        return NULL;
    const char *value = getenv(variables[variable].name);
    return value && value[0] ? value : variables[variable].fallback;
}
