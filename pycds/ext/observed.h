/*
 * observed.h - whether something watches the code this thread runs: a
 * trace or profile function (sys.settrace, sys.setprofile: debuggers,
 * coverage, profilers), tracemalloc, or a sys.monitoring tool (3.12+).
 *
 * A restored unit runs no body: what watches code would not see its lines,
 * calls and returns, which the program can tell (a breakpoint at module
 * level never hit, module-level lines not covered).  tracemalloc would see
 * the objects made by the restore's lines instead of the body's.  So while
 * something watches, no unit is restored and the restore is not even
 * loaded.
 */
#ifndef PYCDS_OBSERVED_H
#define PYCDS_OBSERVED_H

#include "compat.h"

/* observer() -> None, or what watches this thread's code, said for a
 * person ("a trace function is set (sys.settrace)", ...). */
PyObject *pycds_observer(PyObject *module, PyObject *unused);

#endif
