/*
 * fastpath.h - the fast-path record: what the dump saw of a module's
 * search path, so that the share side can tell, without searching, that
 * plain finding would still land on the archived file.  Defined here once:
 * the dumper writes it through pycds._cds.fast_path_record (encode), the
 * finder reads it with pycds_fastpath_next.
 *
 * The record is the module record's `extra`: text lines, each "KIND\t..."
 * ending in "\n", paths in the file system's bytes:
 *
 *   P\t<path>            one per search path entry, in order, up to and
 *                        including the entry where the module was found
 *   E\t<state>\t<path>   an entry before that one, with its state then
 *   S\t<state>\t<path>   the entry that holds the module, and a package's
 *                        own directory: they must not have changed
 *
 * A state is the directory's mtime in nanoseconds, -1 when it did not
 * exist, -2 when it was too recent to trust (a change within the
 * file system's time granularity would not show).  An empty record: no
 * fast path for this module.
 */
#ifndef PYCDS_FASTPATH_H
#define PYCDS_FASTPATH_H

#include <Python.h>
#include <stddef.h>

typedef enum pycds_fastpath_kind {
    PYCDS_FASTPATH_PREFIX = 'P',
    PYCDS_FASTPATH_EARLIER = 'E',
    PYCDS_FASTPATH_STRICT = 'S',
} pycds_fastpath_kind;

typedef struct pycds_fastpath_line {
    pycds_fastpath_kind kind;
    long long state; /* E and S lines */
    const char *path;
    size_t path_size;
} pycds_fastpath_line;

/*
 * The next line of the record [*at, end): 1 and *line (*at advanced), 0 at
 * the end, -1 when the record is malformed (then trust nothing in it).
 */
int pycds_fastpath_next(const char **at, const char *end,
                        pycds_fastpath_line *line);

/* fast_path_record(prefix, earlier, strict) -> bytes: the record for
 * prefix (paths) and earlier and strict ((state, path) pairs); b"" when a
 * path cannot be recorded (a newline or NUL in it). */
PyObject *pycds_fastpath_encode(PyObject *module, PyObject *args);

#endif /* PYCDS_FASTPATH_H */
