/*
 * aside.h - calls made for pycds's own use with stand-ins in sys.modules,
 * out of the program's sight.
 *
 * The snapshot restore needs the C unpickler, which a program that never
 * imported pickle must not find imported (nor functools, copyreg and
 * _compat_pickle, which _pickle imports when it starts); and a TypeVar of
 * a unit that restores typing itself is made while typing is still empty
 * (its constructor imports typing for _type_check).  So the work is done
 * with stand-ins in sys.modules, and sys.modules is put back as it was at
 * once.  Another thread must not see that moment: it would take a
 * stand-in for the real module.  Done here, in C with the GIL held and no
 * collection allowed to start, no Python code runs from the first
 * stand-in put in to the last entry put back, so no thread switch falls
 * in between (as long as the work itself is C, and the program did not
 * replace builtins.__import__ with Python code).
 */
#ifndef PYCDS_ASIDE_H
#define PYCDS_ASIDE_H

#include "compat.h"

/* load_aside(spec, stand_ins) -> module: the extension module `spec`
 * finds, created and executed (by _imp's create_dynamic and exec_dynamic,
 * or create_builtin and exec_builtin for a spec of origin "built-in")
 * while sys.modules maps each name of the dict `stand_ins` to its value;
 * then those names and the spec's own hold what they held before (absent
 * ones absent again), whether the module loaded or raised. */
PyObject *pycds_load_aside(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

/* call_aside(stand_ins, function, *args, **kwargs) -> function(*args,
 * **kwargs), called while sys.modules maps each name of `stand_ins` to
 * its value; then those names hold what they held before. */
PyObject *pycds_call_aside(PyObject *module, PyObject *args, PyObject *kwargs);

/* first_argument(value, *ignored) -> value: a stand-in's function that
 * takes what it is given as checked, and runs no Python code. */
PyObject *pycds_first_argument(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs);

#endif
