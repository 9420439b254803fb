/*
 * copier.h - deep copies of code objects and their constants into an
 * archive being written (the dump side).
 */
#ifndef PYCDS_COPIER_H
#define PYCDS_COPIER_H

#include "compat.h"

#include "cds/cds.h"

typedef struct pycds_copier pycds_copier;

pycds_copier *pycds_copier_new(cds_writer *writer);
void pycds_copier_free(pycds_copier *copier);

/*
 * Copy the code object of the module being written (cds_writer_begin_module
 * was called and gave `module`).  Returns the module's root (a pycds_root),
 * or NULL with an exception set: UnsupportedError (pycds_state) for content
 * pycds cannot archive (the dumper skips that module and says why),
 * MemoryError when the arena is full.
 */
void *pycds_copier_copy_module(pycds_copier *copier, uint32_t module,
                               PyObject *code);

/* Forget what the current module added to the sharing memo (call when the
 * module is cancelled), or keep it (when it is finished). */
void pycds_copier_rollback(pycds_copier *copier);
void pycds_copier_commit(pycds_copier *copier);

/* Counters for the dump summary. */
typedef struct pycds_copy_stats {
    uint64_t objects; /* objects copied */
    uint64_t shared;  /* references satisfied by an object already copied */
    uint64_t codes;   /* code objects copied */
    uint64_t once;    /* of the objects, run-once ones (layout.h) */
} pycds_copy_stats;

pycds_copy_stats pycds_copier_stats(const pycds_copier *copier);

#endif /* PYCDS_COPIER_H */
