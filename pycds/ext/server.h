/*
 * server.h - the fork server's loop (see server.c).
 */
#ifndef PYCDS_SERVER_H
#define PYCDS_SERVER_H

#include <Python.h>

/*
 * serve(socket_path, *, lock_fd=-1, watch=(), pool=0, idle_timeout=600.0,
 *       info="", pages="", ahead=None) -> str | dict
 *
 * Listen on socket_path and serve until idle, stale, stopped or signalled;
 * returns why (a str) in the server.  In a program's process, forked from
 * the server, it returns the program's request as a dict (child.c).
 */
PyObject *pycds_serve(PyObject *module, PyObject *args, PyObject *kwargs);

#endif /* PYCDS_SERVER_H */
