/*
 * server.h - the fork server's loop (see server.c).
 */
#ifndef PYCDS_SERVER_H
#define PYCDS_SERVER_H

#include <Python.h>

#include "run/server.h"

#define PYCDS_STRING(x) #x
#define PYCDS_EXPAND_STRING(x) PYCDS_STRING(x)

/*
 * serve(socket_path, *, lock_fd=-1, watch=(), pool=0,
 *       idle_timeout=RUN_IDLE_TIMEOUT_DEFAULT, info={}, pages="",
 *       ahead=None) -> str | ProgramRequest
 *
 * Listen on socket_path and serve until idle, stale, stopped or signalled;
 * returns why (a str) in the server.  In a program's process, forked from
 * the server, it returns the program's request, decoded once, as a
 * pycds._cds.ProgramRequest (child.c).  pool is checked by run_pool_check;
 * info: the status report's fields the caller knows, by name (run/server.h's
 * run_report_field).
 */
PyObject *pycds_serve(PyObject *module, PyObject *args, PyObject *kwargs);

/* clang-format off */
#define PYCDS_SERVE_DOC                                                        \
    "serve(socket_path, *, lock_fd=-1, watch=(), pool=0, idle_timeout="        \
    PYCDS_EXPAND_STRING(RUN_IDLE_TIMEOUT_DEFAULT) ",\n"                        \
    "info={}, pages='', ahead=None) -> str or ProgramRequest: the fork\n"      \
    "server's loop; in the server, why it stopped; in a program's process,\n"  \
    "the program's request.  info: status fields by name (STATUS_FIELDS)."
/* clang-format on */

#endif /* PYCDS_SERVER_H */
