/*
 * classes.h - what a snapshot restore needs of a class that Python does
 * not offer: its own namespace dict (type.__dict__ is a read-only proxy)
 * and the interpreter's "this class changed" notice.
 */
#ifndef PYCDS_CLASSES_H
#define PYCDS_CLASSES_H

#include "compat.h"

/* type_dict(cls) -> dict: the namespace of a class made by Python code
 * (a heap type), not a copy.  A caller that changes it must call
 * type_modified(cls) before the class is used again. */
PyObject *pycds_type_dict(PyObject *module, PyObject *cls);

/* type_modified(cls): PyType_Modified, so that method caches and version
 * tags of cls and its subclasses forget what they knew. */
PyObject *pycds_type_modified(PyObject *module, PyObject *cls);

/* Let go of a class made here and no longer needed, doing what a
 * collection would do to it (its namespace and MRO cleared, which breaks
 * its cycles), so that it leaves its bases' __subclasses__() now and not
 * at the next collection. */
void pycds_discard_class(PyObject *cls);

/* Whether a class was made by type.__new__ (a class statement, type(...)):
 * its deallocator is subtype_dealloc.  An extension's heap type (PyO3's,
 * PyType_FromSpec's) is not, whatever its flags; -1 with an exception. */
int pycds_made_by_type_new(PyTypeObject *type);

/* is_python_class(cls) -> bool: the same, for Python. */
PyObject *pycds_is_python_class(PyObject *module, PyObject *cls);

/* Whether a C class adds nothing to object's layout and makes its objects
 * as object does (typing.Generic on 3.12+, datetime.tzinfo): no fields, no
 * dict or weakref slot, object's or the generic __new__ and object's
 * __init__.  An instance of a Python subclass of it is made by
 * object.__new__ and its attributes, like a plain class's. */
int pycds_is_stateless_c_base(PyTypeObject *type);

/* is_stateless_c_base(cls) -> bool: the same, for Python. */
PyObject *pycds_stateless_c_base(PyObject *module, PyObject *cls);

/* put_in_order(dict, order): give a namespace (a class's, an instance's)
 * its keys in the body's order: the keys of the list `order` first, any
 * others after them, in their order; KeyError for a key of order it lacks. */
PyObject *pycds_put_in_order(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs);

/* fill_class(cls, (order, later, abc, abstract, flags), abc_step,
 * type_data): the rest of the namespace of a class made by unit_class,
 * in the body's order: the (key, value) items of `later` set, then
 * abc_step(cls, state) when abc or abstract is not None (an ABC's data),
 * the order put back, the class's caches told, and the slot behind each
 * dunder of `later` that is not type's own data (type_data) set by
 * type.__setattr__. */
PyObject *pycds_fill_class(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

#endif /* PYCDS_CLASSES_H */
