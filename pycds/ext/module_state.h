/*
 * module_state.h - the extension's process-wide objects.
 *
 * pycds serves the main interpreter only (interned strings are per
 * interpreter on 3.12+), so its state is plain static data and the module
 * refuses to load in a subinterpreter.
 */
#ifndef PYCDS_MODULE_STATE_H
#define PYCDS_MODULE_STATE_H

#include <Python.h>

typedef struct {
    PyObject *archive_error;     /* pycds._cds.ArchiveError */
    PyObject *unsupported_error; /* pycds._cds.UnsupportedError */
    PyObject *unservable_error;  /* pycds._cds.Unservable */
    PyObject *archive_type;
    PyObject *writer_type;
} pycds_module_state;

/* Defined in module_state.c, filled in by module.c (PyInit__cds), read by
 * error.c, which raises the extension's own exceptions. */

extern pycds_module_state pycds_state;

#endif /* PYCDS_MODULE_STATE_H */
