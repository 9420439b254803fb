/*
 * internal.h - what librun's files share and nobody else needs.
 */
#ifndef RUN_INTERNAL_H
#define RUN_INTERNAL_H

#include <stdarg.h>

#include "os/syscalls.h"
#include "run/run.h"

/* Fill diag (when given) with status and a formatted line; return status. */
run_status run_fail(run_diag *diag, run_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* RUN_INTERNAL_H */
