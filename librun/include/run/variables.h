/*
 * run/variables.h - pycds's own environment variables (PYCDS*), each with
 * its meaning, its default and whether it selects a server.  Every reader
 * goes through this table: pycds-run directly, the extension and the
 * Python package through runlib (pycds._cds.variable).  README.md's
 * "Environment variables" table is checked against it by a test.
 */
#ifndef RUN_VARIABLES_H
#define RUN_VARIABLES_H

#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum run_variable {
    RUN_VAR_MODE,
    RUN_VAR_LIST,
    RUN_VAR_ARCHIVE,
    RUN_VAR_VERBOSE,
    RUN_VAR_VALIDATE,
    RUN_VAR_PRELOAD,
    RUN_VAR_PYTHON,
    RUN_VAR_WAIT,
    RUN_VAR_SOCKET,
    RUN_VAR_ALLOW_THREADS,
    RUN_VAR_POOL,
    RUN_VAR_SNAPSHOT,
    RUN_VAR_COUNT
} run_variable;

typedef struct run_variable_info {
    const char *name;
    const char *fallback; /* the value when unset or empty; NULL: none */
    run_env_role role;    /* whether its value selects a server (its key) */
    const char *meaning;  /* one line, as README's table says it */
} run_variable_info;

/* The variable's entry; NULL out of range. */
const run_variable_info *run_variable_describe(run_variable variable);

/* The variable whose name is the first length bytes of name, or -1. */
int run_variable_by_name(const char *name, size_t length);

/* The variable's value: the environment's when set and not empty, else
 * its fallback (NULL when it has none). */
const char *run_variable_get(run_variable variable);

#ifdef __cplusplus
}
#endif

#endif /* RUN_VARIABLES_H */
