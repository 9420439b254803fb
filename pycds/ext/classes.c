/*
 * classes.c - a class's own namespace, for the snapshot restore
 * (pycds/_snapshot_restore.py): it puts a class's attributes back in the
 * order its body left them, and sets those whose setting would run Python
 * code (a metaclass's __setattr__, a descriptor's __set_name__) that the
 * body's run already did.
 */
#include "classes.h"

#include "error.h"

static PyTypeObject *python_class(PyObject *cls)
{
    if (!PyType_Check(cls) ||
        !PyType_HasFeature((PyTypeObject *)cls, Py_TPFLAGS_HEAPTYPE) ||
        PyType_HasFeature((PyTypeObject *)cls, Py_TPFLAGS_IMMUTABLETYPE)) {
        pycds_raise(PYCDS_ERROR_TYPE, "not a class made by Python code: %R",
                    cls);
        return NULL;
    }
    return (PyTypeObject *)cls;
}

PyObject *pycds_type_dict(PyObject *module, PyObject *cls)
{
    (void)module;
    PyTypeObject *type = python_class(cls);
    if (!type)
        return NULL;
    /* Heap types keep their dict in tp_dict on 3.11-3.13 (only static
     * builtin types moved theirs to the interpreter in 3.12). */
    if (!type->tp_dict || !PyDict_CheckExact(type->tp_dict))
        return pycds_raise(PYCDS_ERROR_RUNTIME, "class %R has no namespace",
                           cls);
    return Py_NewRef(type->tp_dict);
}

PyObject *pycds_type_modified(PyObject *module, PyObject *cls)
{
    (void)module;
    PyTypeObject *type = python_class(cls);
    if (!type)
        return NULL;
    PyType_Modified(type);
    Py_RETURN_NONE;
}

void pycds_discard_class(PyObject *cls)
{
    if (Py_TYPE(cls)->tp_clear)
        Py_TYPE(cls)->tp_clear(cls);
    Py_DECREF(cls);
}

/* The deallocator of every class type.__new__ makes (subtype_dealloc,
 * which libpython does not export): read from one made here. */
static destructor class_dealloc(void)
{
    static destructor found;
    if (!found) {
        PyObject *probe = PyObject_CallFunction(
            (PyObject *)&PyType_Type, "s()O", "_pycds_probe", PyDict_New());
        if (!probe)
            return NULL;
        found = ((PyTypeObject *)probe)->tp_dealloc;
        pycds_discard_class(probe);
    }
    return found;
}

int pycds_made_by_type_new(PyTypeObject *type)
{
    destructor made = class_dealloc();
    if (!made)
        return -1;
    return PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) &&
           type->tp_dealloc == made;
}

PyObject *pycds_is_python_class(PyObject *module, PyObject *cls)
{
    (void)module;
    if (!PyType_Check(cls))
        return Py_NewRef(Py_False);
    int made = pycds_made_by_type_new((PyTypeObject *)cls);
    return made < 0 ? NULL : PyBool_FromLong(made);
}

int pycds_is_stateless_c_base(PyTypeObject *type)
{
    PyTypeObject *object = &PyBaseObject_Type;
    return type->tp_basicsize == object->tp_basicsize &&
           type->tp_itemsize == 0 && type->tp_dictoffset == 0 &&
           type->tp_weaklistoffset == 0 &&
           (type->tp_new == object->tp_new ||
            type->tp_new == PyType_GenericNew) &&
           type->tp_init == object->tp_init;
}

PyObject *pycds_stateless_c_base(PyObject *module, PyObject *cls)
{
    (void)module;
    if (!PyType_Check(cls))
        return Py_NewRef(Py_False);
    return PyBool_FromLong(pycds_is_stateless_c_base((PyTypeObject *)cls));
}
