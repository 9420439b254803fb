/*
 * child.h - the program's process: receiving its request, and the steps
 * of becoming the program that need C (see child.c).
 */
#ifndef PYCDS_CHILD_H
#define PYCDS_CHILD_H

#include <Python.h>

/* Read the request on conn (in the program's process, just forked) and
 * return it as a dict; on failure the process exits: nothing has run.
 * started_fd: where to write this process's pid when its program starts
 * (the server counts programs run). */
PyObject *pycds_child_receive(int conn, int started_fd);

/* The Python functions: child_place_fds, child_apply, child_announce,
 * child_await, child_forget_report, child_end, child_learn_pages,
 * child_unservable, write_unraisable. */
extern PyMethodDef pycds_child_methods[];

#endif /* PYCDS_CHILD_H */
