/*
 * finder.h - the meta-path finder and loaders that serve archived code.
 */
#ifndef PYCDS_FINDER_H
#define PYCDS_FINDER_H

#include "compat.h"

/* Create ArchiveFinder and the archived loader classes in the module. */
int pycds_finder_init(PyObject *module);

/* PYCDSVERBOSE: 1 prints each hit and fallback, 2 adds timings. */
void pycds_finder_set_verbose(int level);

#endif /* PYCDS_FINDER_H */
