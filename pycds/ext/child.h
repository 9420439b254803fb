/*
 * child.h - the program's process: its request, kept as one object, and
 * the steps of becoming the program that need C (see child.c).
 */
#ifndef PYCDS_CHILD_H
#define PYCDS_CHILD_H

#include <Python.h>

/* Read the request on conn (in the program's process, just forked) and
 * return it as a pycds._cds.ProgramRequest (mode, target, options, args;
 * specialise(), refuse(), announce(), start(): see child.c); on failure the
 * process exits: nothing has run.  started_fd: where to write this
 * process's pid when its program starts (the server counts programs run). */
PyObject *pycds_child_receive(int conn, int started_fd);

/* Add the ProgramRequest type to the module. */
int pycds_child_init(PyObject *module);

/* The Python functions: child_forget_report, child_end, child_learn_pages,
 * show_command_line, flush_standard, call_alone. */
extern PyMethodDef pycds_child_methods[];

#endif /* PYCDS_CHILD_H */
