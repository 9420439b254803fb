/*
 * finder.h - the meta-path finder and loaders that serve archived code.
 */
#ifndef PYCDS_FINDER_H
#define PYCDS_FINDER_H

#include "compat.h"

/* Create ArchiveFinder and the archived loader classes in the module.
 * They serve from the archive share.c maps, with its settings (verbosity,
 * validation): the finder depends on the share side, never the reverse. */
int pycds_finder_init(PyObject *module);

#endif /* PYCDS_FINDER_H */
