/*
 * error.h - the one way the extension raises its errors.
 *
 * Every exception the extension raises is made here: the kind of failure
 * names the exception class, and the message is one line, formatted as
 * PyUnicode_FromFormat formats (%s, %d, %u, %R, %U, ...).  Each function
 * returns NULL (pycds_fail: -1), so that a caller can return its result.
 */
#ifndef PYCDS_ERROR_H
#define PYCDS_ERROR_H

#include <Python.h>

#include "cds/cds.h"

typedef enum pycds_error_kind {
    PYCDS_ERROR_VALUE,       /* ValueError: a bad argument or setting */
    PYCDS_ERROR_TYPE,        /* TypeError: an argument of the wrong type */
    PYCDS_ERROR_RUNTIME,     /* RuntimeError: not possible in this state */
    PYCDS_ERROR_IMPORT,      /* ImportError */
    PYCDS_ERROR_OS,          /* OSError, with no errno */
    PYCDS_ERROR_NOT_FOUND,   /* FileNotFoundError */
    PYCDS_ERROR_MEMORY,      /* MemoryError (format NULL: the usual one) */
    PYCDS_ERROR_UNSUPPORTED, /* UnsupportedError: a module holds what an
                                archive cannot */
    PYCDS_ERROR_UNSERVABLE,  /* Unservable: python must run this program */
} pycds_error_kind;

PyObject *pycds_raise(pycds_error_kind kind, const char *format, ...);
int pycds_fail(pycds_error_kind kind, const char *format, ...);

/* OSError from errno, naming `filename` when not NULL. */
PyObject *pycds_raise_errno(const char *filename);

/* ArchiveError for a libcds failure: "PATH: REASON" (the diag's message
 * when it is about this status, else the status's name), with the
 * attributes path, reason and status. */
PyObject *pycds_raise_archive(const char *path, const cds_diag *diag,
                              cds_status status);

/* A libcds status as `kind` ("WHAT: REASON"), or MemoryError for
 * CDS_E_NOMEM. */
PyObject *pycds_raise_status(pycds_error_kind kind, cds_status status,
                             const char *what);

#endif /* PYCDS_ERROR_H */
