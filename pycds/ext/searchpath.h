/*
 * searchpath.h - whether the search path a module or an absent name was
 * recorded with still holds, so that the finder may answer without a
 * search (the fast path).
 *
 * The dumper records, per module, the search path up to the entry where it
 * was found and the state (mtime) of those entries; for an absent name,
 * the whole search path and the state of each entry (fastpath.h).  The
 * finder (finder.c) asks here; nothing here calls the finder.
 */
#ifndef PYCDS_SEARCHPATH_H
#define PYCDS_SEARCHPATH_H

#include "compat.h"
#include "share.h"

/* Build the state (caches, FileFinder's suffixes); -1 with an exception. */
int pycds_search_path_init(void);

/* The path hooks python starts with (a new reference, kept): an entry not
 * yet searched is searched by a plain FileFinder while they are unchanged. */
void pycds_search_path_set_hooks(PyObject *hooks);

/* Read entry states and directory listings anew (invalidate_caches). */
void pycds_search_path_forget(void);

/* 1 when the record proves what plain finding would do (take the archived
 * file; for an absent name, find nothing), 0 when it does not (search
 * instead), -1 on error.  path: the parent's __path__, or None for
 * sys.path. */
int pycds_search_path_holds(PyObject *name, PyObject *path,
                            const pycds_module_view *view);

/* Whether a spec's origin (str) names the archived path (bytes). */
int pycds_same_origin(PyObject *origin, const char *path, size_t size);

#endif /* PYCDS_SEARCHPATH_H */
