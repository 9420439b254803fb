/*
 * unit.c - making a snapshot unit's objects in C (see unit.h).  The
 * unpickler calls these by name; they trust their arguments no more than
 * any C function Python code can call: wrong types raise.
 */
#include "unit.h"

#include "class_image.h"

#include "classes.h"
#include "error.h"
#include "tenure.h"

/* Set attribute `name` unless the function already has `value` there
 * (most functions keep what PyFunction_New derived from the code). */
static int set_if_other(PyObject *function, const char *name, PyObject *value)
{
    if (value == Py_Ellipsis)
        return 0; /* the writer saw that PyFunction_New makes the same */
    PyObject *now = PyObject_GetAttrString(function, name);
    if (!now)
        return -1;
    int same = now == value;
    if (!same && PyUnicode_Check(now) && PyUnicode_Check(value))
        same = PyUnicode_Compare(now, value) == 0;
    Py_DECREF(now);
    if (same)
        return 0;
    return PyObject_SetAttrString(function, name, value);
}

PyObject *pycds_unit_function(PyObject *module, PyObject *const *args,
                              Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 12)
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_function takes 12 arguments, not %zd", nargs);
    PyObject *code = args[0], *globals = args[1], *name = args[2],
             *qualname = args[3], *closure = args[4], *defaults = args[5],
             *kwdefaults = args[6], *annotations = args[7], *doc = args[8],
             *module_name = args[9], *attrs = args[10], *type_params = args[11];
    if (!PyCode_Check(code) || !PyDict_Check(globals))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_function: no code object or globals dict");
    PyObject *function = PyFunction_NewWithQualName(
        code, globals, qualname == Py_None ? NULL : qualname);
    if (!function)
        return NULL;
    if ((defaults != Py_None && !PyTuple_Check(defaults)) ||
        (kwdefaults != Py_None && !PyDict_Check(kwdefaults))) {
        Py_DECREF(function);
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_function: defaults not a tuple or keyword "
                           "defaults not a dict");
    }
    /* Set as the interpreter sets a new function's (MAKE_FUNCTION), not
     * by PyFunction_SetDefaults: that tells function watchers of a change,
     * and the restore's checks take such a change to a function they
     * hashed for one they may have remembered (witness.c's memo_epoch). */
    PyFunctionObject *made = (PyFunctionObject *)function;
    if (defaults != Py_None)
        Py_XSETREF(made->func_defaults, Py_NewRef(defaults));
    if (kwdefaults != Py_None)
        Py_XSETREF(made->func_kwdefaults, Py_NewRef(kwdefaults));
    if ((closure != Py_None && PyFunction_SetClosure(function, closure) < 0) ||
        (annotations != Py_None &&
         PyFunction_SetAnnotations(function, annotations) < 0) ||
        set_if_other(function, "__name__", name) < 0 ||
        set_if_other(function, "__doc__", doc) < 0 ||
        set_if_other(function, "__module__", module_name) < 0 ||
        (type_params != Py_None &&
         PyObject_SetAttrString(function, "__type_params__", type_params) <
             0)) {
        Py_DECREF(function);
        return NULL;
    }
    if (attrs != Py_None) {
        PyObject *dict = PyObject_GenericGetDict(function, NULL);
        int failed = !dict || PyDict_Update(dict, attrs) < 0;
        Py_XDECREF(dict);
        if (failed) {
            Py_DECREF(function);
            return NULL;
        }
    }
    return function;
}

PyObject *pycds_unit_object(PyObject *module, PyObject *cls)
{
    (void)module;
    if (!PyType_Check(cls))
        return pycds_raise(PYCDS_ERROR_TYPE, "unit_object: %R is no class",
                           cls);
    /* Only for instances laid out as object's: every class up to object a
     * class statement's or a C class that adds nothing (an extension's type
     * with fields would be left uninitialised). */
    for (PyTypeObject *t = (PyTypeObject *)cls; t != &PyBaseObject_Type;
         t = t->tp_base) {
        int made = t ? pycds_made_by_type_new(t) : 0;
        if (made < 0)
            return NULL;
        if (!made && !(t && pycds_is_stateless_c_base(t)))
            return pycds_raise(PYCDS_ERROR_TYPE,
                               "unit_object: %R is not laid out as object",
                               cls);
    }
    PyObject *empty = PyTuple_New(0);
    if (!empty)
        return NULL;
    PyObject *obj = PyBaseObject_Type.tp_new((PyTypeObject *)cls, empty, NULL);
    Py_DECREF(empty);
    return obj;
}

/* Whether every key of attrs can be stored as `self.key = value` stores it:
 * an exact str that no data descriptor of the class intercepts. */
static int settable_as_attributes(PyObject *obj, PyObject *attrs)
{
    Py_ssize_t at = 0;
    PyObject *key, *value;
    while (PyDict_Next(attrs, &at, &key, &value)) {
        if (!PyUnicode_CheckExact(key))
            return 0;
        PyObject *found = _PyType_Lookup(Py_TYPE(obj), key);
        if (found && Py_TYPE(found)->tp_descr_set)
            return 0;
    }
    return 1;
}

/* An instance's __dict__, in its order.  Stored as a body's `self.x = v`
 * stores them (object.__setattr__, the names interned as in code), so that
 * the instance keeps its values inline where its class shares its keys
 * (3.11+), as a plain one does; a __dict__ asked for first would be made
 * a dict of its own. */
static int fill_attributes(PyObject *obj, PyObject *attrs)
{
    if (!PyDict_Check(attrs))
        return pycds_fail(PYCDS_ERROR_TYPE,
                          "unit_fill: attributes are no dict");
    if (!settable_as_attributes(obj, attrs)) {
        PyObject *dict = PyObject_GenericGetDict(obj, NULL);
        int failed = !dict || PyDict_Update(dict, attrs) < 0;
        Py_XDECREF(dict);
        return failed ? -1 : 0;
    }
    Py_ssize_t at = 0;
    PyObject *key, *value;
    while (PyDict_Next(attrs, &at, &key, &value)) {
        Py_INCREF(key);
        PyUnicode_InternInPlace(&key);
        int result = PyObject_GenericSetAttr(obj, key, value);
        Py_DECREF(key);
        if (result < 0)
            return -1;
    }
    return 0;
}

static int fill_slots(PyObject *obj, PyObject *slots)
{
    if (!PyList_Check(slots))
        return pycds_fail(PYCDS_ERROR_TYPE, "unit_fill: slots are no list");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(slots); i++) {
        PyObject *slot = PyList_GET_ITEM(slots, i);
        if (!PyTuple_Check(slot) || PyTuple_GET_SIZE(slot) != 3 ||
            !PyType_Check(PyTuple_GET_ITEM(slot, 0)))
            return pycds_fail(PYCDS_ERROR_TYPE, "unit_fill: a bad slot");
        PyObject *namespace =
            PyObject_GetAttrString(PyTuple_GET_ITEM(slot, 0), "__dict__");
        if (!namespace)
            return -1;
        PyObject *descriptor =
            PyObject_GetItem(namespace, PyTuple_GET_ITEM(slot, 1));
        Py_DECREF(namespace);
        if (!descriptor)
            return -1;
        descrsetfunc set = Py_TYPE(descriptor)->tp_descr_set;
        int result = set ? set(descriptor, obj, PyTuple_GET_ITEM(slot, 2))
                         : pycds_fail(PYCDS_ERROR_TYPE,
                                      "unit_fill: a slot without a setter");
        Py_DECREF(descriptor);
        if (result < 0)
            return -1;
    }
    return 0;
}

static int fill_items(PyObject *obj, PyObject *items)
{
    if (PyDict_Check(obj))
        return PyDict_Update(obj, items);
    if (PyList_Check(obj)) {
        Py_ssize_t end = PyList_GET_SIZE(obj);
        return PyList_SetSlice(obj, end, end, items);
    }
    if (PySet_Check(obj)) {
        PyObject *iterator = PyObject_GetIter(items);
        if (!iterator)
            return -1;
        PyObject *item;
        while ((item = PyIter_Next(iterator))) {
            int added = PySet_Add(obj, item);
            Py_DECREF(item);
            if (added < 0) {
                Py_DECREF(iterator);
                return -1;
            }
        }
        Py_DECREF(iterator);
        return PyErr_Occurred() ? -1 : 0;
    }
    return pycds_fail(PYCDS_ERROR_TYPE, "unit_fill: items for %R",
                      (PyObject *)Py_TYPE(obj));
}

PyObject *pycds_unit_fill(PyObject *module, PyObject *const *args,
                          Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 3)
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_fill(obj, (attrs, slots, items))");
    PyObject *obj = args[0], *attrs = PyTuple_GET_ITEM(args[1], 0),
             *slots = PyTuple_GET_ITEM(args[1], 1),
             *items = PyTuple_GET_ITEM(args[1], 2);
    if (attrs != Py_None && fill_attributes(obj, attrs) < 0)
        return NULL;
    if (slots != Py_None && fill_slots(obj, slots) < 0)
        return NULL;
    if (items != Py_None && fill_items(obj, items) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The classes whose __init_subclass__ type.__new__ could call for a class
 * with these bases: every class of every base's MRO but object.  Their
 * namespaces (a copy of the items, in order) are returned in `saved`. */
static int hide_hooks(PyObject *bases, PyObject *saved)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(bases); i++) {
        PyObject *mro = ((PyTypeObject *)PyTuple_GET_ITEM(bases, i))->tp_mro;
        for (Py_ssize_t j = 0; mro && j < PyTuple_GET_SIZE(mro); j++) {
            PyTypeObject *klass = (PyTypeObject *)PyTuple_GET_ITEM(mro, j);
            if (klass == &PyBaseObject_Type)
                continue;
            PyObject *namespace = pycds_type_namespace(klass);
            if (!namespace)
                return -1;
            PyObject *hook =
                PyDict_GetItemString(namespace, "__init_subclass__");
            if (!hook) {
                Py_DECREF(namespace);
                continue;
            }
            PyObject *items = PyDict_Items(namespace);
            PyObject *entry =
                items ? PyTuple_Pack(3, (PyObject *)klass, namespace, items)
                      : NULL;
            Py_XDECREF(items);
            int failed =
                !entry || PyList_Append(saved, entry) < 0 ||
                PyDict_DelItemString(namespace, "__init_subclass__") < 0;
            Py_XDECREF(entry);
            Py_DECREF(namespace);
            if (failed)
                return -1;
            PyType_Modified(klass);
        }
    }
    return 0;
}

/* Put back what hide_hooks took, in each namespace's order. */
static void restore_hooks(PyObject *saved)
{
    for (Py_ssize_t i = PyList_GET_SIZE(saved) - 1; i >= 0; i--) {
        PyObject *entry = PyList_GET_ITEM(saved, i);
        PyObject *namespace = PyTuple_GET_ITEM(entry, 1);
        PyObject *items = PyTuple_GET_ITEM(entry, 2);
        PyDict_Clear(namespace);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(items); j++) {
            PyObject *pair = PyList_GET_ITEM(items, j);
            PyDict_SetItem(namespace, PyTuple_GET_ITEM(pair, 0),
                           PyTuple_GET_ITEM(pair, 1));
        }
        PyType_Modified((PyTypeObject *)PyTuple_GET_ITEM(entry, 0));
    }
}

PyObject *pycds_unit_class(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if ((nargs != 4 && nargs != 5) || !PyType_Check(args[0]) ||
        !PyType_IsSubtype((PyTypeObject *)args[0], &PyType_Type) ||
        !PyUnicode_Check(args[1]) || !PyTuple_Check(args[2]) ||
        !PyDict_Check(args[3]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_class(metaclass, name, bases, namespace"
                           "[, image])");
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[2]); i++)
        if (!PyType_Check(PyTuple_GET_ITEM(args[2], i)))
            return pycds_raise(PYCDS_ERROR_TYPE,
                               "unit_class: a base is no class");
    if (nargs == 5 && args[4] != Py_None) {
        PyObject *made = pycds_class_from_image(
            (PyTypeObject *)args[0], args[1], args[2], args[3], args[4]);
        /* An image that does not fit (another build's) leaves nothing
         * behind: type.__new__ makes the class as the body did. */
        if (made || PyErr_ExceptionMatches(PyExc_MemoryError))
            return made;
        PyErr_Clear();
    }
    PyObject *saved = PyList_New(0);
    if (!saved)
        return NULL;
    PyObject *cls = NULL;
    PyObject *call = PyTuple_Pack(3, args[1], args[2], args[3]);
    /* While no __init_subclass__ is in reach, type.__new__ calls object's,
     * which does nothing: the body's run already did what the hook did,
     * and the unit holds it.  Nothing else runs Python code in between
     * (the namespace holds no object with __set_name__: the writer saw to
     * that; no collection starts, whose finalizers would be Python code),
     * so no one, in this thread or another, sees the namespaces without
     * their hooks.  (A metaclass with an `mro` of its own in Python would
     * run it here: none of the dumps seen so far had one.) */
    int held = pycds_hold_collections();
    if (call && hide_hooks(args[2], saved) == 0)
        cls = PyType_Type.tp_new((PyTypeObject *)args[0], call, NULL);
    pycds_saved_error error = pycds_error_save();
    restore_hooks(saved);
    pycds_error_restore(error);
    pycds_release_collections(held);
    Py_XDECREF(call);
    Py_DECREF(saved);
    return cls;
}

PyObject *pycds_unit_codes(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyCode_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyList_Check(args[2]))
        return pycds_raise(PYCDS_ERROR_TYPE, "unit_codes(code, paths, memo)");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(args[1]); i++) {
        PyObject *path = PyList_GET_ITEM(args[1], i);
        if (!PyTuple_Check(path))
            return pycds_raise(PYCDS_ERROR_TYPE, "a code path is a tuple");
        PyObject *code = args[0];
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(path); j++) {
            Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(path, j));
            if (index == -1 && PyErr_Occurred())
                return NULL;
            PyObject *consts = ((PyCodeObject *)code)->co_consts;
            if (index < 0 || index >= PyTuple_GET_SIZE(consts) ||
                !PyCode_Check(PyTuple_GET_ITEM(consts, index)))
                return pycds_raise(PYCDS_ERROR_VALUE,
                                   "no code object at %R of %R", path, args[0]);
            code = PyTuple_GET_ITEM(consts, index);
        }
        if (PyList_Append(args[2], code) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static uint32_t read_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

PyObject *pycds_unit_strings(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyList_Check(args[0]) || !PyBytes_Check(args[2]) ||
        !PyList_Check(args[3]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_strings(memo, start, pairs, names)");
    PyObject *names = args[3];
    PyObject *memo = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    const unsigned char *pairs =
        (const unsigned char *)PyBytes_AS_STRING(args[2]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[2]);
    if (size % 8 != 0 || start < 0 || start > PyList_GET_SIZE(memo))
        return pycds_raise(PYCDS_ERROR_VALUE, "unit_strings: damaged pairs");
    PyObject *strings = PyList_New(size / 8 + PyList_GET_SIZE(names));
    if (!strings)
        return NULL;
    for (Py_ssize_t i = 0; i < size / 8; i++) {
        uint32_t at = read_u32le(pairs + 8 * i);
        uint32_t slot = read_u32le(pairs + 8 * i + 4);
        PyObject *code = (Py_ssize_t)at < PyList_GET_SIZE(memo) - start
                             ? PyList_GET_ITEM(memo, start + (Py_ssize_t)at)
                             : NULL;
        if (!code || !PyCode_Check(code)) {
            pycds_raise(PYCDS_ERROR_VALUE, "unit_strings: no code object at %u",
                        (unsigned)at);
            goto fail;
        }
        PyObject *values = slot % 2 ? ((PyCodeObject *)code)->co_consts
                                    : ((PyCodeObject *)code)->co_names;
        Py_ssize_t index = (Py_ssize_t)(slot / 2);
        PyObject *text = index < PyTuple_GET_SIZE(values)
                             ? PyTuple_GET_ITEM(values, index)
                             : NULL;
        if (!text || !PyUnicode_CheckExact(text)) {
            pycds_raise(PYCDS_ERROR_VALUE,
                        "unit_strings: no str at slot %u of %R", (unsigned)slot,
                        code);
            goto fail;
        }
        PyList_SET_ITEM(strings, i, Py_NewRef(text));
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        /* A float or int the unit's objects hold more than once: one
         * object, as the body left it. */
        int shared = PyFloat_CheckExact(name) || PyLong_CheckExact(name);
        if (!shared && !PyUnicode_CheckExact(name)) {
            pycds_raise(PYCDS_ERROR_VALUE,
                        "unit_strings: a name is no str, float or int");
            goto fail;
        }
        Py_INCREF(name);
        if (!shared)
            PyUnicode_InternInPlace(&name);
        PyList_SET_ITEM(strings, size / 8 + i, name);
    }
    return strings;
fail:
    Py_DECREF(strings);
    return NULL;
}

PyObject *pycds_unit_fills(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_fills(batch, abc_step, type_data, other)");
    PyObject *batch = args[0];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        PyObject *fill = PyList_GET_ITEM(batch, i);
        if (!PyTuple_Check(fill) || PyTuple_GET_SIZE(fill) != 3)
            return pycds_raise(PYCDS_ERROR_TYPE, "unit_fills: a damaged fill");
        PyObject *kind = PyTuple_GET_ITEM(fill, 0);
        PyObject *obj = PyTuple_GET_ITEM(fill, 1);
        PyObject *state = PyTuple_GET_ITEM(fill, 2);
        int is_str = PyUnicode_Check(kind);
        PyObject *done;
        if (is_str && PyUnicode_CompareWithASCIIString(kind, "class") == 0) {
            PyObject *call[4] = {obj, state, args[1], args[2]};
            done = pycds_fill_class(module, call, 4);
        } else if (is_str && PyCell_Check(obj) &&
                   PyUnicode_CompareWithASCIIString(kind, "cell") == 0) {
            done = PyCell_Set(obj, state) < 0 ? NULL : Py_NewRef(Py_None);
        } else {
            done =
                PyObject_CallFunctionObjArgs(args[3], kind, obj, state, NULL);
        }
        if (!done)
            return NULL;
        Py_DECREF(done);
    }
    Py_RETURN_NONE;
}

PyObject *pycds_is_interned(PyObject *module, PyObject *text)
{
    (void)module;
    return PyBool_FromLong(PyUnicode_CheckExact(text) &&
                           PyUnicode_CHECK_INTERNED(text));
}

PyObject *pycds_unit_install(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyType_Check(args[3]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "unit_install(namespace, items, keep, fresh)");
    PyObject *namespace = args[0], *items = args[1], *keep = args[2];
    PyTypeObject *fresh = (PyTypeObject *)args[3];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
            return pycds_raise(PYCDS_ERROR_TYPE, "an item is (key, value)");
    }
    PyObject *current = PyDict_Copy(namespace);
    if (!current)
        return NULL;
    PyDict_Clear(namespace);
    int failed = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items) && !failed; i++) {
        PyObject *key = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *value = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (value == keep) {
            /* What the import system set (__spec__, __loader__...). */
            value = PyDict_GetItemWithError(current, key);
            if (!value) {
                failed = PyErr_Occurred() != NULL;
                continue;
            }
            Py_INCREF(value);
        } else if (Py_TYPE(value) == fresh) {
            value = PyObject_CallMethod(value, "read", NULL);
            if (!value) {
                failed = 1;
                break;
            }
        } else
            Py_INCREF(value);
        failed = PyDict_SetItem(namespace, key, value) < 0;
        Py_DECREF(value);
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (!failed && PyDict_Next(current, &pos, &key, &value)) {
        int has = PyDict_Contains(namespace, key);
        failed = has < 0 || (!has && PyDict_SetItem(namespace, key, value) < 0);
    }
    Py_DECREF(current);
    return failed ? NULL : Py_NewRef(Py_None);
}

PyObject *pycds_unit_imports(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyDict_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE, "unit_imports(imports, globals)");
    /* The builtins' __import__, as an import statement calls it (a program
     * may have replaced it). */
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *import =
        builtins ? PyDict_GetItemString(builtins, "__import__") : NULL;
    if (!import)
        return pycds_raise(PYCDS_ERROR_IMPORT, "__import__ not found");
    Py_INCREF(import);
    PyObject *out = Py_NewRef(Py_None);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(args[0]); i++) {
        PyObject *entry = PyList_GET_ITEM(args[0], i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 4) {
            Py_SETREF(out, pycds_raise(PYCDS_ERROR_TYPE,
                                       "an import is (name, fromlist, level, "
                                       "ok)"));
            break;
        }
        int ok = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 3));
        PyObject *done = ok < 0
                             ? NULL
                             : PyObject_CallFunctionObjArgs(
                                   import, PyTuple_GET_ITEM(entry, 0), args[1],
                                   Py_None, PyTuple_GET_ITEM(entry, 1),
                                   PyTuple_GET_ITEM(entry, 2), NULL);
        if (done) {
            Py_DECREF(done);
            if (ok)
                continue;
        } else if (ok < 0 || !PyErr_ExceptionMatches(PyExc_ImportError)) {
            Py_CLEAR(out);
            break;
        } else {
            PyErr_Clear();
            if (!ok)
                continue;
        }
        /* The import did not end as it did in the body. */
        Py_SETREF(out, Py_BuildValue("(nO)", i, done ? Py_False : Py_True));
        break;
    }
    Py_DECREF(import);
    return out;
}
