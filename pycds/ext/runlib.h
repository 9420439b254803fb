/*
 * runlib.h - librun's rules (key, directory, command line, start-up
 * environment, launchers) as functions of pycds._cds.
 */
#ifndef PYCDS_RUNLIB_H
#define PYCDS_RUNLIB_H

#include <Python.h>

extern PyMethodDef pycds_runlib_methods[];

#endif /* PYCDS_RUNLIB_H */
