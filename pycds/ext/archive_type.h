/*
 * archive_type.h - pycds._cds.Archive: an opened, validated archive.
 */
#ifndef PYCDS_ARCHIVE_TYPE_H
#define PYCDS_ARCHIVE_TYPE_H

#include <Python.h>

#include "cds/cds.h"

typedef struct {
    PyObject_HEAD
    cds_archive *archive;
    PyObject *path;
} ArchiveObject;

extern PyType_Spec pycds_archive_spec;

/* Raise ArchiveError(message) for a libcds failure; returns NULL. */
PyObject *pycds_raise_archive_error(const char *path, const cds_diag *diag,
                                    cds_status status);

#endif /* PYCDS_ARCHIVE_TYPE_H */
