/*
 * runlib.h - librun's rules (key, directory, command line, start-up
 * environment, launchers, a server's files, status report and limits,
 * pycds's environment variables) as functions and constants of
 * pycds._cds.
 */
#ifndef PYCDS_RUNLIB_H
#define PYCDS_RUNLIB_H

#include <Python.h>

#include "run/server.h"

extern PyMethodDef pycds_runlib_methods[];

/* Add librun's constants (SERVER_FILES, STATUS_FIELDS, IDLE_TIMEOUT_DEFAULT,
 * POOL_MAX, SERVE_*) to the module. */
int pycds_runlib_init(PyObject *module);

/* The fields of a dict {name: str} into report (pointing into the dict's
 * strings: valid while it lives); -1 with ValueError for an unknown name. */
int pycds_report_from_dict(PyObject *fields, run_report *report);

/* A report's text as a str. */
PyObject *pycds_report_text(const run_report *report);

/* n of librun's strings (argv, interpreter options, a request's fields) as
 * a list of str, decoded as os.fsdecode does. */
PyObject *pycds_string_list(const char *const *strings, size_t n);

#endif /* PYCDS_RUNLIB_H */
