/*
 * compat.h - the one place where CPython versions differ for pycds.
 *
 * Include this instead of Python.h in files that need interpreter internals.
 * Py_BUILD_CORE_MODULE (not Py_BUILD_CORE, which makes the module read a
 * thread-local that libpython does not export) opens internal/pycore_*.h.
 * Supported: CPython 3.11, 3.12, 3.13, default (non-debug, GIL) builds.
 */
#ifndef PYCDS_COMPAT_H
#define PYCDS_COMPAT_H

#ifndef Py_BUILD_CORE_MODULE
#define Py_BUILD_CORE_MODULE 1
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "internal/pycore_gc.h" /* PyGC_Head */

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "pycds supports CPython 3.11, 3.12 and 3.13"
#endif
#ifdef Py_GIL_DISABLED
#error "pycds does not support free-threaded builds"
#endif

#endif /* PYCDS_COMPAT_H */
