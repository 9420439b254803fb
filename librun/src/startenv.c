/*
 * startenv.c - which environment variables the interpreter (and what it
 * loads while starting) reads at start-up only.
 *
 * A forked interpreter keeps what its server read when it started, so a
 * program must be served by a server whose start-up variables had the
 * same values: those are part of the server's key (RUN_ENV_KEY), and the
 * program's process checks them again.  A few start-up variables change
 * behaviour in ways no preloaded interpreter can reproduce (tracing
 * imports, inspecting after the program, allocation statistics): when one
 * is set, python runs the program itself (RUN_ENV_PLAIN).  Everything else
 * is read while running, so the program sees the caller's value.
 *
 * The list follows the "Environment variables" chapters of CPython 3.11 to
 * 3.13 and the variables of the C library and numeric libraries that are
 * read when a library is loaded.  README.md carries the same list.
 * pycds's own variables say their role in their table (variables.c).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "run/variables.h"

typedef struct rule {
    const char *name; /* exact name, or a prefix when it ends with '*' */
    run_env_role role;
} rule;

static const rule rules[] = {
    /* CPython's start-up variables. */
    {"PYTHONHOME", RUN_ENV_KEY},
    {"PYTHONPATH", RUN_ENV_KEY},
    {"PYTHONSAFEPATH", RUN_ENV_KEY},
    {"PYTHONPLATLIBDIR", RUN_ENV_KEY},
    {"PYTHONOPTIMIZE", RUN_ENV_KEY},
    {"PYTHONUNBUFFERED", RUN_ENV_KEY},
    {"PYTHONDONTWRITEBYTECODE", RUN_ENV_KEY},
    {"PYTHONPYCACHEPREFIX", RUN_ENV_KEY},
    {"PYTHONHASHSEED", RUN_ENV_KEY},
    {"PYTHONINTMAXSTRDIGITS", RUN_ENV_KEY},
    {"PYTHONIOENCODING", RUN_ENV_KEY},
    {"PYTHONNOUSERSITE", RUN_ENV_KEY},
    {"PYTHONUSERBASE", RUN_ENV_KEY},
    {"PYTHONEXECUTABLE", RUN_ENV_KEY},
    {"PYTHONWARNINGS", RUN_ENV_KEY},
    {"PYTHONFAULTHANDLER", RUN_ENV_KEY},
    {"PYTHONMALLOC", RUN_ENV_KEY},
    {"PYTHONCOERCECLOCALE", RUN_ENV_KEY},
    {"PYTHONUTF8", RUN_ENV_KEY},
    {"PYTHONNODEBUGRANGES", RUN_ENV_KEY},
    {"PYTHON_CPU_COUNT", RUN_ENV_KEY},
    {"PYTHON_FROZEN_MODULES", RUN_ENV_KEY},
    {"PYTHON_GIL", RUN_ENV_KEY},
    {"PYTHONCASEOK", RUN_ENV_KEY},
    /* Start-up variables whose effect a fork cannot reproduce. */
    {"PYTHONINSPECT", RUN_ENV_PLAIN},
    {"PYTHONVERBOSE", RUN_ENV_PLAIN},
    {"PYTHONDEBUG", RUN_ENV_PLAIN},
    {"PYTHONDEVMODE", RUN_ENV_PLAIN},
    {"PYTHONPROFILEIMPORTTIME", RUN_ENV_PLAIN},
    {"PYTHONTRACEMALLOC", RUN_ENV_PLAIN},
    {"PYTHONMALLOCSTATS", RUN_ENV_PLAIN},
    {"PYTHONWARNDEFAULTENCODING", RUN_ENV_PLAIN},
    {"PYTHONPERFSUPPORT", RUN_ENV_PLAIN},
    {"PYTHON_PERF_JIT_SUPPORT", RUN_ENV_PLAIN},
    {"PYTHONDUMPREFS", RUN_ENV_PLAIN},
    {"PYTHONDUMPREFSFILE", RUN_ENV_PLAIN},
    {"PYTHONSHOWREFCOUNT", RUN_ENV_PLAIN},
    {"PYTHONTHREADDEBUG", RUN_ENV_PLAIN},
    {"PYTHON_PRESITE", RUN_ENV_PLAIN},
    {"PYTHONLEGACYWINDOWSFSENCODING", RUN_ENV_PLAIN},
    {"PYTHONLEGACYWINDOWSSTDIO", RUN_ENV_PLAIN},
    /* The locale (stdio and file system encodings), the time zone (the
     * time module's tzname and timezone), the user site directory. */
    {"LANG", RUN_ENV_KEY},
    {"LC_ALL", RUN_ENV_KEY},
    {"LC_CTYPE", RUN_ENV_KEY},
    {"TZ", RUN_ENV_KEY},
    {"HOME", RUN_ENV_KEY},
    /* The dynamic linker and the C library, read when the process starts. */
    {"LD_LIBRARY_PATH", RUN_ENV_KEY},
    {"LD_PRELOAD", RUN_ENV_KEY},
    {"LD_BIND_NOW", RUN_ENV_KEY},
    {"GLIBC_TUNABLES", RUN_ENV_KEY},
    {"MALLOC_*", RUN_ENV_KEY},
    /* Thread pools of numeric libraries, sized when they are loaded. */
    {"OMP_*", RUN_ENV_KEY},
    {"OPENBLAS_*", RUN_ENV_KEY},
    {"MKL_*", RUN_ENV_KEY},
    {"KMP_*", RUN_ENV_KEY},
    {"GOTO_NUM_THREADS", RUN_ENV_KEY},
    {"NUMEXPR_*", RUN_ENV_KEY},
    {"VECLIB_MAXIMUM_THREADS", RUN_ENV_KEY},
    {"CUDA_VISIBLE_DEVICES", RUN_ENV_KEY},
};

/* The length of the name in "NAME=value" or "NAME". */
static size_t name_length(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static const char *value_of(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? eq + 1 : "";
}

run_env_role run_env_role_of(const char *entry)
{
    size_t length = name_length(entry);
    /* pycds's own say in their table. */
    int variable = run_variable_by_name(entry, length);
    if (variable == RUN_VAR_MODE) {
        /* PYCDSMODE=SHARE is served (the server shares); TRACE and AUTO
         * must see the program's own imports. */
        const char *value = value_of(entry);
        return (strcasecmp(value, "SHARE") == 0 || value[0] == 0)
                   ? RUN_ENV_KEY
                   : RUN_ENV_PLAIN;
    }
    if (variable >= 0)
        return run_variable_describe((run_variable)variable)->role;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *name = rules[i].name;
        size_t n = strlen(name);
        if (name[n - 1] == '*') {
            if (length >= n - 1 && strncmp(entry, name, n - 1) == 0)
                return rules[i].role;
        } else if (length == n && strncmp(entry, name, n) == 0) {
            return rules[i].role;
        }
    }
    return RUN_ENV_RUNTIME;
}

const char *run_env_forcing_plain(char *const *env)
{
    for (; env && *env; env++)
        if (run_env_role_of(*env) == RUN_ENV_PLAIN && value_of(*env)[0])
            return *env;
    return NULL;
}

/* The value of the start-up variable named like entry in env, or NULL. */
static const char *find(const char *const *env, size_t n, const char *entry)
{
    size_t length = name_length(entry);
    for (size_t i = 0; i < n; i++)
        if (name_length(env[i]) == length &&
            strncmp(env[i], entry, length) == 0)
            return value_of(env[i]);
    return NULL;
}

static int differs_one_way(const char *const *a, size_t n_a,
                           const char *const *b, size_t n_b, char *name,
                           size_t size)
{
    for (size_t i = 0; i < n_a; i++) {
        if (run_env_role_of(a[i]) != RUN_ENV_KEY)
            continue;
        const char *other = find(b, n_b, a[i]);
        if (!other || strcmp(other, value_of(a[i])) != 0) {
            size_t length = name_length(a[i]);
            if (length >= size)
                length = size - 1;
            memcpy(name, a[i], length);
            name[length] = 0;
            return 1;
        }
    }
    return 0;
}

int run_env_startup_differs(const char *const *a, size_t n_a,
                            const char *const *b, size_t n_b, char *name,
                            size_t name_size)
{
    return differs_one_way(a, n_a, b, n_b, name, name_size) ||
           differs_one_way(b, n_b, a, n_a, name, name_size);
}
