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

#endif /* PYCDS_ARCHIVE_TYPE_H */
