/*
 * unit.h - the C half of a snapshot unit's vocabulary: what a restore
 * (pycds/_snapshot_restore.py) calls once per object, so that making an
 * object costs one C call and no Python frame.  Each does what the Python
 * version beside it in _snapshot_restore.py would.
 */
#ifndef PYCDS_UNIT_H
#define PYCDS_UNIT_H

#include "compat.h"

/* unit_function(code, globals, name, qualname, closure, defaults,
 * kwdefaults, annotations, doc, module, attrs, type_params) -> function:
 * a function as MAKE_FUNCTION made it and the body then changed it.
 * qualname None: the code's; name, doc, module Ellipsis: what
 * PyFunction_New derives (from the code, the code, the globals). */
PyObject *pycds_unit_function(PyObject *module, PyObject *const *args,
                              Py_ssize_t nargs);

/* unit_object(cls) -> object.__new__(cls), for a class whose instances are
 * laid out as object's (the dumper checked). */
PyObject *pycds_unit_object(PyObject *module, PyObject *cls);

/* unit_fill(obj, (attrs, slots, items)): an instance's __dict__ items,
 * its slots' values [(class, name, value)], and a container's items. */
PyObject *pycds_unit_fill(PyObject *module, PyObject *const *args,
                          Py_ssize_t nargs);

/* unit_class(metaclass, name, bases, namespace[, image]) -> class:
 * type.__new__ itself (not the metaclass's __new__ or __init__), with
 * every __init_subclass__ of the bases out of reach while it runs: what the
 * hooks did is in the unit.  With an image (class_image.h), made from it
 * instead, or by type.__new__ when it does not fit. */
PyObject *pycds_unit_class(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

/* unit_codes(code, paths, memo): append to memo the code object each path
 * names inside `code` (a tuple of co_consts indexes, outermost first). */
PyObject *pycds_unit_codes(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

/* unit_strings(memo, start, pairs, names) -> [str]: the strings a unit's
 * objects share with the module's code, then the other strings the
 * planning process had interned, interned here, and the floats and ints
 * its objects hold more than once, as they are (its pickles name each by
 * persistent id, an index into this list).  pairs is bytes, pairs of
 * little-endian uint32 (code, slot): code the index of a code object in
 * memo from `start`, slot 2 * i for its co_names[i], 2 * i + 1 for its
 * co_consts[i], which must be a str.  ValueError for a pair that names
 * none, or a name that is no str, float or int. */
PyObject *pycds_unit_strings(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs);

/* unit_fills(batch, abc_step, type_data, other): a unit's fill batch,
 * [(kind, object, state)], in order: a "class" by fill_class (classes.h),
 * a "cell" given its contents, any other kind by other(kind, object,
 * state). */
PyObject *pycds_unit_fills(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

/* is_interned(obj) -> bool: a str that is interned (asking sys.intern
 * would intern it). */
PyObject *pycds_is_interned(PyObject *module, PyObject *text);

/* unit_install(namespace, items, keep, fresh): give a module's namespace
 * the body's [(key, value)] in order: a value `keep` is what the import
 * system had set there (absent: left out), an instance of the class
 * `fresh` is its read(); then whatever else the namespace held. */
PyObject *pycds_unit_install(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs);

/* unit_imports(imports, globals) -> None, or (index, failed) for the
 * first import that did not end as in the body: each (name, fromlist,
 * level, ok) made again by the builtins' __import__ with the module's
 * globals, in order; ok says whether the body's import succeeded (an
 * ImportError is its outcome, any other exception propagates). */
PyObject *pycds_unit_imports(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs);

#endif /* PYCDS_UNIT_H */
