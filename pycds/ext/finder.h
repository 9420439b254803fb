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

/* set_restorer(callable or None): what exec_module asks first for a module
 * served from the archive that has a unit (see finder.c). */
PyObject *pycds_finder_set_restorer(PyObject *module, PyObject *callable);

/* set_import_memo(dict or None): a dict emptied whenever the outermost
 * exec_module of archived code returns (see finder.c). */
PyObject *pycds_finder_set_import_memo(PyObject *module, PyObject *memo);

#endif /* PYCDS_FINDER_H */
