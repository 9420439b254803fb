/*
 * tenure.h - the objects a snapshot unit makes go straight to the
 * collector's oldest generation.
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

/* tenured(function, argument) -> function(argument), no collection
 * starting by itself meanwhile; the container objects made meanwhile that
 * are still alive are moved from the youngest generation to the oldest.
 * Nothing is moved when a collection is running when it is called, or one
 * ran meanwhile all the same (gc.collect(), from any thread). */
PyObject *pycds_tenured(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs);

#endif
