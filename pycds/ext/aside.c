/*
 * aside.c - calls made for pycds's own use with stand-ins in sys.modules
 * that no other thread sees (aside.h says why).
 */
#include "aside.h"

#include "error.h"
#include "tenure.h"

/* What a window changes in sys.modules, and what each entry held before:
 * taken before anything is changed, so that the entries dropped when they
 * are put back are still held here (nothing is freed inside the window). */
typedef struct {
    PyObject *names;  /* list of str */
    PyObject *before; /* list: the entry, or None with the name in `absent` */
    PyObject *absent; /* set of the names that were absent */
} saved_entries;

static int save_entry(PyObject *modules, saved_entries *saved, PyObject *name)
{
    if (!PyUnicode_CheckExact(name)) {
        pycds_raise(PYCDS_ERROR_TYPE, "a stand-in's name is no str");
        return -1;
    }
    PyObject *held = PyDict_GetItemWithError(modules, name); /* borrowed */
    if (!held && PyErr_Occurred())
        return -1;
    if (PyList_Append(saved->names, name) < 0 ||
        PyList_Append(saved->before, held ? held : Py_None) < 0)
        return -1;
    return held ? 0 : PySet_Add(saved->absent, name);
}

/* Every saved entry as it was, with an error pending or not. */
static void put_back(PyObject *modules, saved_entries *saved)
{
    pycds_saved_error error = pycds_error_save();
    Py_ssize_t count = PyList_GET_SIZE(saved->names);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(saved->names, i);
        int failed =
            PySet_Contains(saved->absent, name)
                ? PyDict_DelItem(modules, name) < 0 &&
                      !PyErr_ExceptionMatches(PyExc_KeyError)
                : PyDict_SetItem(modules, name,
                                 PyList_GET_ITEM(saved->before, i)) < 0;
        if (failed)
            PyErr_WriteUnraisable(name);
        PyErr_Clear();
    }
    pycds_error_restore(error);
}

typedef PyObject *(*aside_work)(void *context);

/* work(context) while sys.modules maps each name of `stand_ins` to its
 * value; then those names, and `own_name` (NULL: none) which the work
 * may add, hold what they held before.  No collection starts inside (its
 * callbacks and finalizers are Python code). */
static PyObject *with_stand_ins(PyObject *stand_ins, PyObject *own_name,
                                aside_work work, void *context)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    if (!PyDict_Check(modules))
        return pycds_raise(PYCDS_ERROR_TYPE, "sys.modules is not a dict");
    PyObject *result = NULL;
    saved_entries saved = {PyList_New(0), PyList_New(0), PySet_New(NULL)};
    if (!saved.names || !saved.before || !saved.absent)
        goto done;
    PyObject *name, *value;
    Py_ssize_t at = 0;
    while (PyDict_Next(stand_ins, &at, &name, &value))
        if (save_entry(modules, &saved, name) < 0)
            goto done;
    if (own_name && save_entry(modules, &saved, own_name) < 0)
        goto done;

    int held = pycds_hold_collections();
    int ready = 0;
    at = 0;
    while (PyDict_Next(stand_ins, &at, &name, &value))
        if ((ready = PyDict_SetItem(modules, name, value)) < 0)
            break;
    if (ready == 0)
        result = work(context);
    put_back(modules, &saved);
    pycds_release_collections(held);

done:
    Py_XDECREF(saved.names);
    Py_XDECREF(saved.before);
    Py_XDECREF(saved.absent);
    return result;
}

/* -- load_aside ------------------------------------------------------------ */

typedef struct {
    PyObject *create, *exec, *spec;
} extension_load;

static PyObject *create_and_exec(void *context)
{
    extension_load *load = context;
    PyObject *made = PyObject_CallOneArg(load->create, load->spec);
    if (!made)
        return NULL;
    PyObject *done = PyObject_CallOneArg(load->exec, made);
    if (!done) {
        Py_DECREF(made);
        return NULL;
    }
    Py_DECREF(done);
    return made;
}

PyObject *pycds_load_aside(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "load_aside(spec, stand_ins: dict)");
    PyObject *spec = args[0], *result = NULL, *imp = NULL;
    extension_load load = {NULL, NULL, spec};
    PyObject *own_name = PyObject_GetAttrString(spec, "name");
    PyObject *origin = own_name ? PyObject_GetAttrString(spec, "origin") : NULL;
    if (!origin)
        goto done;
    if (!PyUnicode_CheckExact(own_name)) {
        pycds_raise(PYCDS_ERROR_TYPE, "load_aside: the spec's name is no str");
        goto done;
    }
    /* Everything that may run Python code comes before the window.  A
     * module linked into the interpreter (Debian's _pickle) is made by the
     * functions BuiltinImporter calls, one in a shared library by
     * ExtensionFileLoader's. */
    int builtin = PyUnicode_Check(origin) &&
                  PyUnicode_CompareWithASCIIString(origin, "built-in") == 0;
    imp = PyImport_ImportModule("_imp");
    load.create = imp ? PyObject_GetAttrString(imp, builtin ? "create_builtin"
                                                            : "create_dynamic")
                      : NULL;
    load.exec = load.create
                    ? PyObject_GetAttrString(imp, builtin ? "exec_builtin"
                                                          : "exec_dynamic")
                    : NULL;
    if (load.exec)
        result = with_stand_ins(args[1], own_name, create_and_exec, &load);

done:
    Py_XDECREF(own_name);
    Py_XDECREF(origin);
    Py_XDECREF(imp);
    Py_XDECREF(load.create);
    Py_XDECREF(load.exec);
    return result;
}

/* -- call_aside ------------------------------------------------------------ */

typedef struct {
    PyObject *function, *args, *kwargs;
} call;

static PyObject *make_call(void *context)
{
    call *c = context;
    return PyObject_Call(c->function, c->args, c->kwargs);
}

PyObject *pycds_call_aside(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    if (PyTuple_GET_SIZE(args) < 2 || !PyDict_Check(PyTuple_GET_ITEM(args, 0)))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "call_aside(stand_ins: dict, function, *args, "
                           "**kwargs)");
    PyObject *rest = PyTuple_GetSlice(args, 2, PyTuple_GET_SIZE(args));
    if (!rest)
        return NULL;
    call c = {PyTuple_GET_ITEM(args, 1), rest, kwargs};
    PyObject *result =
        with_stand_ins(PyTuple_GET_ITEM(args, 0), NULL, make_call, &c);
    Py_DECREF(rest);
    return result;
}

PyObject *pycds_first_argument(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs)
{
    (void)module;
    if (nargs < 1)
        return pycds_raise(PYCDS_ERROR_TYPE, "first_argument(value, *ignored)");
    return Py_NewRef(args[0]);
}
