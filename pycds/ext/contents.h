/*
 * contents.h - the XXH3 of a file's contents (PYCDSVALIDATE=hash): of a
 * module's source (share.c's pycds_share_source_changed), and of a data
 * file a snapshot unit's body opened, recorded by the planner and checked
 * at restore.
 */
#ifndef PYCDS_CONTENTS_H
#define PYCDS_CONTENTS_H

#include "compat.h"

#include <stdint.h>

/* 1 and *hash (cds_hash of the whole file) when path is a regular file
 * that could be read to its end; 0 otherwise (absent, unreadable, a
 * directory, a FIFO, a device: no wait for a writer, no endless read).
 * Raises nothing. */
int pycds_file_hash(const char *path, uint64_t *hash);

/* file_hash(path) -> int, or None when pycds_file_hash gives 0. */
PyObject *pycds_file_hash_py(PyObject *module, PyObject *path);

#endif /* PYCDS_CONTENTS_H */
