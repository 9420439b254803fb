/*
 * finder.h - the meta-path finder and loaders that serve archived code.
 */
#ifndef PYCDS_FINDER_H
#define PYCDS_FINDER_H

#include "compat.h"

/* Create ArchiveFinder and the archived loader classes in the module. */
int pycds_finder_init(PyObject *module);

/*
 * verbose (PYCDSVERBOSE): 1 prints each hit and fallback, 2 adds timings.
 * validate (PYCDSVALIDATE): how a module's file is checked against the dump:
 * "mtime" (size and modification time, the default), "hash" (also an XXH3
 * of the contents), "none" (trust the archive: immutable deployments).
 * -1 with ValueError for an unknown mode.
 */
int pycds_finder_configure(int verbose, const char *validate);

#endif /* PYCDS_FINDER_H */
