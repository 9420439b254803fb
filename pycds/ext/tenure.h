/*
 * tenure.h - the collector while a restore works: the objects a snapshot
 * unit makes go straight to its oldest generation, and no collection
 * starts by itself inside a restore's short windows.
 *
 * A unit's objects live as long as their module.  Made by a body, they
 * would be walked by a young collection, then by a middle one, before
 * reaching the oldest generation; made by a restore, they are linked there
 * at once, and counted as long-lived (so the full collections that walk
 * them come as often as after the body).  Which generation an object is in
 * is the collector's own business: gc.get_objects() lists them, cycles
 * among them are collected as any others.
 */
#ifndef PYCDS_TENURE_H
#define PYCDS_TENURE_H

#include "compat.h"

/* No collection starts by itself from pycds_hold_collections() to the
 * matching pycds_release_collections(held): for windows where pycds
 * changes what other code could see, so that no finalizer or callback of
 * a collection (Python code, and so a thread switch) falls inside, and
 * for tenured below.  One asked for (gc.collect()) still runs.  3.11
 * collects inside the allocation that crosses the threshold, 3.12 and
 * 3.13 at the next bytecode boundary: both are held. */
int pycds_hold_collections(void);
void pycds_release_collections(int held);

/* tenured(function, argument) -> function(argument), no collection
 * starting by itself meanwhile; the container objects made meanwhile that
 * are still alive are moved from the youngest generation to the oldest.
 * Nothing is moved when a collection is running when it is called, or one
 * ran meanwhile all the same (gc.collect(), from any thread), or when
 * the call raised: what it made stays young. */
PyObject *pycds_tenured(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs);

/* A module body run from archived code: what it made and left alive goes
 * to the middle generation when it returns (tenure.c says why).  Started
 * before the body runs; never fails (a watch that could not start does
 * nothing at its end). */
typedef struct {
    PyObject *marker;       /* an empty list made just before the body */
    Py_ssize_t collections; /* collections of any generation by then */
} pycds_body_watch;

void pycds_body_watch_start(pycds_body_watch *watch);

/* After the body, which returned normally or raised (`succeeded` 0: only
 * the watch is dropped).  Keeps any exception set. */
void pycds_body_watch_end(pycds_body_watch *watch, int succeeded);

#endif
