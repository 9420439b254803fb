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

/* Whether dict's keys are `order`, in that order. */
static int in_order(PyObject *dict, PyObject *order)
{
    if (PyDict_GET_SIZE(dict) != PyList_GET_SIZE(order))
        return 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0, i = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        int same =
            PyObject_RichCompareBool(key, PyList_GET_ITEM(order, i++), Py_EQ);
        if (same <= 0)
            return same;
    }
    return 1;
}

static int put_in_order(PyObject *dict, PyObject *order)
{
    int done = in_order(dict, order);
    if (done)
        return done < 0 ? -1 : 0;
    PyObject *values = PyDict_Copy(dict);
    if (!values)
        return -1;
    PyDict_Clear(dict);
    int failed = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(order) && !failed; i++) {
        PyObject *key = PyList_GET_ITEM(order, i);
        PyObject *value = PyDict_GetItemWithError(values, key); /* borrowed */
        if (!value) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, key);
            failed = 1;
            break;
        }
        failed = PyDict_SetItem(dict, key, value) < 0 ||
                 PyDict_DelItem(values, key) < 0;
    }
    failed = failed || PyDict_Update(dict, values) < 0;
    Py_DECREF(values);
    return failed ? -1 : 0;
}

PyObject *pycds_put_in_order(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyList_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE, "put_in_order(dict, order)");
    return put_in_order(args[0], args[1]) < 0 ? NULL : Py_NewRef(Py_None);
}

/* A name type.__setattr__ would give a slot to: "__...__" and not one of
 * type's own data (`type_data`, a set). */
static int slot_name(PyObject *key, PyObject *type_data)
{
    if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) < 2)
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    if (PyUnicode_READ_CHAR(key, 0) != '_' ||
        PyUnicode_READ_CHAR(key, 1) != '_' ||
        PyUnicode_READ_CHAR(key, n - 1) != '_' ||
        PyUnicode_READ_CHAR(key, n - 2) != '_')
        return 0;
    int data = PySet_Contains(type_data, key);
    return data < 0 ? -1 : !data;
}

PyObject *pycds_fill_class(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyTuple_Check(args[1]) ||
        PyTuple_GET_SIZE(args[1]) != 5 || !PyAnySet_Check(args[3]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "fill_class(cls, state, abc_step, type_data)");
    PyTypeObject *type = python_class(args[0]);
    if (!type)
        return NULL;
    PyObject *order = PyTuple_GET_ITEM(args[1], 0);
    PyObject *later = PyTuple_GET_ITEM(args[1], 1);
    if (!PyList_Check(order) || !PyList_Check(later))
        return pycds_raise(PYCDS_ERROR_TYPE, "fill_class: a damaged state");
    PyObject *ns = type->tp_dict;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(later); i++) {
        PyObject *pair = PyList_GET_ITEM(later, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
            return pycds_raise(PYCDS_ERROR_TYPE, "fill_class: a damaged item");
        if (PyDict_SetItem(ns, PyTuple_GET_ITEM(pair, 0),
                           PyTuple_GET_ITEM(pair, 1)) < 0)
            return NULL;
    }
    /* An ABC's data, or abstract methods set by hand: abc_step(cls,
     * state), before the order is put back (it adds to the namespace). */
    if (PyTuple_GET_ITEM(args[1], 2) != Py_None ||
        PyTuple_GET_ITEM(args[1], 3) != Py_None) {
        PyObject *done =
            PyObject_CallFunctionObjArgs(args[2], args[0], args[1], NULL);
        if (!done)
            return NULL;
        Py_DECREF(done);
    }
    if (put_in_order(ns, order) < 0)
        return NULL;
    PyType_Modified(type);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(later); i++) {
        PyObject *pair = PyList_GET_ITEM(later, i);
        PyObject *key = PyTuple_GET_ITEM(pair, 0);
        int slot = slot_name(key, args[3]);
        if (slot < 0 ||
            (slot && PyType_Type.tp_setattro((PyObject *)type, key,
                                             PyTuple_GET_ITEM(pair, 1)) < 0))
            return NULL;
    }
    Py_RETURN_NONE;
}
