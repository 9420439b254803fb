/*
 * finder.c - the finder that stands in for PathFinder on sys.meta_path, and
 * the loaders that serve archived code.
 *
 * One route per import.  find_spec looks the name up in the archive's
 * index once and, by what the record is:
 *
 *   code          if the fast-path record proves that plain finding would
 *                 take the archived file, and the file is unchanged, the
 *                 spec FileFinder would make, with an archived loader that
 *                 holds the module's number; otherwise PathFinder searches,
 *                 and the archived loader goes in only if the search lands
 *                 on the archived file, unchanged;
 *   extension     if the record holds, the spec with the usual loader;
 *   absent name   if the record holds, no spec: "not found", PathFinder's
 *                 answer, without a search;
 *
 * and anything else is PathFinder's: a module it imports plainly is
 * reported (PYCDSVERBOSE>=1) with why the archive did not answer, so that
 * every import is a hit, a fallback or a plain import with its reason.
 * Whether a record's search path still holds is searchpath.c's.  Standing in
 * for PathFinder (rather than sitting before it) is what lets an absent name be
 * answered while the finders after PathFinder on sys.meta_path still run as
 * they would. The archived loader's exec_module has the module relocated
 * (share.c) and runs it, as the base class's exec_module would; but when
 * the code came from the archive, a restorer is set (set_restorer) and the
 * archive holds a unit for the module, it first calls
 * restorer(module, code, unit): True means the restorer filled the module
 * from its unit and the body does not run, False that the body runs as
 * usual.  What a unit holds and how it is restored is the restorer's.  A
 * module with no unit whose code record says that its import pays for the
 * restore (PYCDS_MODULE_UNIT_STARTS) is announced as restorer(module, code,
 * None), which must answer False.
 *
 * The loaders are subclasses of SourceFileLoader and SourcelessFileLoader
 * created here, so get_source, get_data, get_filename, is_package,
 * get_resource_reader and the module's attributes are those of plain
 * importing; the module's number lives in a C field of theirs.
 */
#include "finder.h"
#include "tenure.h"
#include "error.h"
#include "searchpath.h"
#include "say.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "os/clock.h"

#include "share.h"

#include "cds/cds.h"

static struct {
    PyObject *module_spec;       /* importlib's ModuleSpec */
    PyObject *path_finder;       /* importlib's PathFinder */
    PyObject *source_loader;     /* SourceFileLoader */
    PyObject *sourceless_loader; /* SourcelessFileLoader */
    PyObject *extension_loader;  /* ExtensionFileLoader */
    PyObject *archived_source;   /* our subclasses of the two */
    PyObject *archived_sourceless;
    PyObject *frames_removed; /* importlib's _call_with_frames_removed */
    PyObject *exec;           /* builtins.exec */
    PyObject *str_find_spec, *str_loader, *str_origin, *str_locations,
        *str_name, *str_get_code, *str_dict, *str_dunder_name,
        *str_set_fileattr;
} finder;

/* set_restorer's callable, or NULL.  Set in the main interpreter only,
 * the only one archived code is served in. */
static PyObject *restorer;

/* set_import_memo's dict, or NULL, and how many exec_module calls of the
 * main interpreter are running (a body's imports run inside its own).  The
 * restorer remembers there what it checked of other modules while one
 * import runs, so that the units it imports check each object once; the
 * memo holds those objects, so it is emptied when the outermost exec_module
 * returns: after the import, what a restore checked lives as long as the
 * program keeps it, as in plain Python. */
static PyObject *import_memo;
static Py_ssize_t exec_depth;

/* Where archived loaders keep their module's number + 1 (0: none). */
static Py_ssize_t number_offset;

static void fallback(PyObject *name, const char *reason)
{
    if (pycds_share_verbosity() >= 1)
        pycds_say("pycds: fallback %U: %s\n", name, reason);
}

/* ---------------------------------------------------------------- loaders */

static uint64_t *served_number(PyObject *loader)
{
    return (uint64_t *)((char *)loader + number_offset);
}

/* The archived code for `fullname` the first time it is asked for (a later
 * call, e.g. from importlib.reload, reads the file anew); NULL without an
 * exception when the base class's get_code must answer. */
static PyObject *archived_code(PyObject *self, PyObject *fullname)
{
    uint64_t *served = served_number(self);
    if (*served == 0 || !PyUnicode_Check(fullname))
        return NULL;
    PyObject *name = PyObject_GetAttr(self, finder.str_name);
    int same =
        name && PyUnicode_Check(name) && PyUnicode_Compare(name, fullname) == 0;
    Py_XDECREF(name);
    PyErr_Clear();
    if (!same)
        return NULL;
    uint32_t number = (uint32_t)(*served - 1);
    *served = 0;
    uint64_t start = os_now_ns();
    PyObject *code = pycds_share_code_for_import(number);
    if (!code) {
        PyObject *error = pycds_error_text();
        fallback(fullname, error ? PyUnicode_AsUTF8(error) : "refused");
        Py_XDECREF(error);
        PyErr_Clear();
    } else if (code == Py_None) {
        Py_CLEAR(code);
        fallback(fullname, "not served in this state");
    } else if (pycds_share_verbosity() >= 2) {
        /* PyUnicode_FromFormat has no %f: tenths of microseconds. */
        unsigned long tenths = (unsigned long)((os_now_ns() - start) / 100);
        pycds_say("pycds: hit %U (%lu.%lu us)\n", fullname, tenths / 10,
                  tenths % 10);
    } else if (pycds_share_verbosity() >= 1) {
        pycds_say("pycds: hit %U\n", fullname);
    }
    return code;
}

/* The code the base loader gives. */
static PyObject *base_code(PyObject *self, PyObject *fullname)
{
    PyObject *base =
        PyType_IsSubtype(Py_TYPE(self), (PyTypeObject *)finder.source_loader)
            ? finder.source_loader
            : finder.sourceless_loader;
    PyObject *method = PyObject_GetAttr(base, finder.str_get_code);
    if (!method)
        return NULL;
    PyObject *code = PyObject_CallFunctionObjArgs(method, self, fullname, NULL);
    Py_DECREF(method);
    return code;
}

/* The code plain importing would run: the archive's, else the base's. */
static PyObject *loader_code(PyObject *self, PyObject *fullname)
{
    PyObject *code = archived_code(self, fullname);
    if (code || PyErr_Occurred())
        return code;
    return base_code(self, fullname);
}

/* get_code(fullname), for runpy and other callers of the loader API. */
static PyObject *archived_get_code(PyObject *self, PyObject *fullname)
{
    return loader_code(self, fullname);
}

/* Whether the restorer filled the module from its unit: 1 (the body must
 * not run), 0 (no restorer, no unit, or the restorer declined: run it), -1
 * with the restorer's exception, which the import raises (a restorer that
 * fails must not be hidden: it is a bug, or KeyboardInterrupt). */
static int restored(PyObject *module, PyObject *name, PyObject *code,
                    uint32_t number)
{
    if (!restorer)
        return 0;
    PyObject *unit;
    int found = pycds_share_unit_of(name, &unit);
    if (found < 0)
        return found;
    if (found == 0) {
        /* No unit: its code record may say that importing it pays for the
         * restore, which the restorer is told with None (and declines). */
        if (!pycds_share_code_starts(number))
            return 0;
        unit = Py_NewRef(Py_None);
    }
    int no_unit = unit == Py_None;
    /* Held across the call: the restorer may replace itself. */
    PyObject *callable = Py_NewRef(restorer);
    PyObject *result = PyObject_CallFunctionObjArgs(
        finder.frames_removed, callable, module, code, unit, NULL);
    Py_DECREF(callable);
    Py_DECREF(unit);
    if (!result)
        return -1;
    int done = result == Py_True ? 1 : result == Py_False ? 0 : -1;
    if (done < 0)
        pycds_raise(PYCDS_ERROR_TYPE,
                    "restorer of %U returned %R, not True or False", name,
                    result);
    else if (done && no_unit) {
        done = -1;
        pycds_raise(PYCDS_ERROR_TYPE,
                    "restorer of %U returned True without a unit", name);
    }
    Py_DECREF(result);
    return done;
}

static PyObject *exec_module(PyObject *self, PyObject *module);

/* exec_module(module): as the base class's (_LoaderBasics.exec_module),
 * with the archived code, or the module restored from its unit; when the
 * outermost returns, the import memo emptied; then, as plain Python frees a
 * module's code when its exec_module returns, the run-once pages of the
 * bodies that ran given back (share.h: what the memo or anything else still
 * holds is looked at again by a later settle). */
static PyObject *archived_exec_module(PyObject *self, PyObject *module)
{
    if (!pycds_in_main_interpreter())
        return exec_module(self, module);
    exec_depth++;
    PyObject *result = exec_module(self, module);
    if (--exec_depth == 0 && import_memo && PyDict_GET_SIZE(import_memo)) {
        /* What the memo drops may have a finalizer: the import's own
         * exception, if any, is kept aside while it runs. */
        pycds_saved_error saved = pycds_error_save();
        PyDict_Clear(import_memo);
        pycds_error_restore(saved);
    }
    pycds_share_settle(exec_depth == 0);
    return result;
}

static PyObject *exec_module(PyObject *self, PyObject *module)
{
    PyObject *name = PyObject_GetAttr(module, finder.str_dunder_name);
    if (!name)
        return NULL;
    /* The module's number, before archived_code hands its code out. */
    uint32_t number = (uint32_t)(*served_number(self) - 1);
    PyObject *code = archived_code(self, name);
    int served = code != NULL;
    /* Only archived code has a unit made with it. */
    int done = code ? restored(module, name, code, number) : 0;
    if (!code && !PyErr_Occurred())
        code = base_code(self, name);
    if (code == Py_None) {
        Py_CLEAR(code);
        pycds_raise(PYCDS_ERROR_IMPORT,
                    "cannot load module %R when get_code() returns None", name);
    }
    Py_DECREF(name);
    if (!code || done != 0) {
        Py_XDECREF(code);
        if (served && pycds_in_main_interpreter())
            pycds_share_body_ran(number);
        return done > 0 ? Py_NewRef(Py_None) : NULL;
    }
    PyObject *namespace = PyObject_GetAttr(module, finder.str_dict);
    PyObject *result = NULL;
    if (namespace) {
        pycds_body_watch watch;
        pycds_body_watch_start(&watch);
        result = PyObject_CallFunctionObjArgs(
            finder.frames_removed, finder.exec, code, namespace, NULL);
        pycds_body_watch_end(&watch, result != NULL);
    }
    Py_XDECREF(namespace);
    Py_DECREF(code);
    if (served && pycds_in_main_interpreter())
        pycds_share_body_ran(number);
    if (!result)
        return NULL;
    Py_DECREF(result);
    Py_RETURN_NONE;
}

static PyMethodDef archived_loader_methods[] = {
    {"get_code", archived_get_code, METH_O,
     "get_code(fullname): the archived code object the first time, then the\n"
     "base loader's get_code."},
    {"exec_module", archived_exec_module, METH_O,
     "exec_module(module): run the module's code (archived the first time)\n"
     "in its namespace, as the base loader does."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot archived_loader_slots[] = {
    {Py_tp_methods, archived_loader_methods},
    {Py_tp_doc, "A file loader whose code is served from the archive."},
    {0, NULL},
};

static PyObject *make_loader_type(const char *name, PyObject *base)
{
    PyType_Spec spec = {
        .name = name,
        /* The base's instance (with its __dict__), then the number. */
        .basicsize = (int)(number_offset + sizeof(uint64_t)),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .slots = archived_loader_slots,
    };
    PyObject *bases = PyTuple_Pack(1, base);
    if (!bases)
        return NULL;
    PyObject *type = PyType_FromSpecWithBases(&spec, bases);
    Py_DECREF(bases);
    return type;
}

/* A loader of class `archived` for the module, serving archive entry
 * `number`. */
static PyObject *archived_loader(PyObject *archived, PyObject *name,
                                 PyObject *origin, uint32_t number)
{
    PyObject *loader =
        PyObject_CallFunctionObjArgs(archived, name, origin, NULL);
    if (loader)
        *served_number(loader) = (uint64_t)number + 1;
    return loader;
}

/* The spec FileFinder would make: spec_from_file_location's. */
static PyObject *file_spec(PyObject *name, PyObject *loader, PyObject *origin,
                           int is_package)
{
    PyObject *args = PyTuple_Pack(2, name, loader);
    PyObject *kwargs = args ? Py_BuildValue("{sO}", "origin", origin) : NULL;
    PyObject *spec =
        kwargs ? PyObject_Call(finder.module_spec, args, kwargs) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    if (!spec)
        return NULL;
    PyObject *locations = NULL;
    if (is_package) {
        PyObject *dir = PyObject_CallMethod(origin, "rpartition", "s", "/");
        if (dir)
            locations = Py_BuildValue("[O]", PyTuple_GET_ITEM(dir, 0));
        Py_XDECREF(dir);
        if (!locations)
            goto error;
    }
    if (PyObject_SetAttr(spec, finder.str_set_fileattr, Py_True) < 0 ||
        (locations &&
         PyObject_SetAttr(spec, finder.str_locations, locations) < 0))
        goto error;
    Py_XDECREF(locations);
    return spec;
error:
    Py_XDECREF(locations);
    Py_DECREF(spec);
    return NULL;
}

PyObject *pycds_finder_set_restorer(PyObject *module, PyObject *callable)
{
    (void)module;
    if (callable != Py_None && !PyCallable_Check(callable))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "set_restorer() needs a callable or None");
    if (!pycds_in_main_interpreter())
        return pycds_raise(PYCDS_ERROR_RUNTIME,
                           "set_restorer() in the main interpreter only");
    Py_XSETREF(restorer, callable == Py_None ? NULL : Py_NewRef(callable));
    Py_RETURN_NONE;
}

PyObject *pycds_finder_set_import_memo(PyObject *module, PyObject *memo)
{
    (void)module;
    if (memo != Py_None && !PyDict_CheckExact(memo))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "set_import_memo() needs a dict or None");
    if (!pycds_in_main_interpreter())
        return pycds_raise(PYCDS_ERROR_RUNTIME,
                           "set_import_memo() in the main interpreter only");
    Py_XSETREF(import_memo, memo == Py_None ? NULL : Py_NewRef(memo));
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------------- finder */

typedef struct {
    PyObject_HEAD
} FinderObject;

/* Whether the archived file is still what the dump read (share.c decides,
 * by PYCDSVALIDATE); when not, one fallback line saying why. */
static int source_unchanged(PyObject *name, const pycds_module_view *view)
{
    const char *changed = pycds_share_source_changed(view);
    if (changed)
        fallback(name, changed);
    return changed == NULL;
}

static PyObject *origin_of(const pycds_module_view *view)
{
    return PyUnicode_DecodeFSDefaultAndSize(view->origin,
                                            (Py_ssize_t)view->origin_size);
}

/* What plain finding gives: PathFinder's spec.  (A function of its own, so
 * that a profile tells PathFinder's searches from the finder's own work.) */
__attribute__((noinline)) static PyObject *
plain_spec(PyObject *name, PyObject *path, PyObject *target)
{
    return PyObject_CallMethodObjArgs(finder.path_finder, finder.str_find_spec,
                                      name, path, target, NULL);
}

/* PathFinder's spec, and when it found the module (so that it is imported
 * plainly), one line saying why the archive did not answer: every import
 * the finder sees is a hit, a fallback or a plain import with its reason. */
static PyObject *explained_plain_spec(PyObject *name, PyObject *path,
                                      PyObject *target, const char *why)
{
    PyObject *spec = plain_spec(name, path, target);
    if (spec && spec != Py_None && pycds_share_verbosity() >= 1)
        pycds_say("pycds: plain %U: %s\n", name, why);
    return spec;
}

/* Slow path: let PathFinder search, and serve the archive only if it finds
 * the archived file with a plain file loader. */
static PyObject *searched_spec(PyObject *name, PyObject *path, PyObject *target,
                               const pycds_module_view *view)
{
    PyObject *spec = plain_spec(name, path, target);
    if (!spec || spec == Py_None) {
        if (spec)
            fallback(name, "no longer found");
        return spec;
    }
    PyObject *loader = PyObject_GetAttr(spec, finder.str_loader);
    PyObject *origin =
        loader ? PyObject_GetAttr(spec, finder.str_origin) : NULL;
    PyObject *locations =
        origin ? PyObject_GetAttr(spec, finder.str_locations) : NULL;
    PyObject *archived = NULL, *new_loader = NULL;
    int failed = !locations;
    if (failed)
        goto done;
    if ((PyObject *)Py_TYPE(loader) == finder.source_loader)
        archived = finder.archived_source;
    else if ((PyObject *)Py_TYPE(loader) == finder.sourceless_loader)
        archived = finder.archived_sourceless;
    if (!archived ||
        !pycds_same_origin(origin, view->origin, view->origin_size))
        fallback(name, "now found elsewhere or by another loader");
    else if ((locations != Py_None) != view->is_package)
        fallback(name, "package or module changed");
    else if (source_unchanged(name, view)) {
        new_loader = archived_loader(archived, name, origin, view->number);
        failed = !new_loader ||
                 PyObject_SetAttr(spec, finder.str_loader, new_loader) < 0;
    }
done:
    Py_XDECREF(new_loader);
    Py_XDECREF(loader);
    Py_XDECREF(origin);
    Py_XDECREF(locations);
    if (failed)
        Py_CLEAR(spec);
    return spec;
}

/* Fast path: the record proved plain finding would take the archived file;
 * build the spec FileFinder would build, without searching.  For an
 * extension module that is all there is to it: the usual loader loads it. */
static PyObject *recorded_spec(PyObject *name, PyObject *path, PyObject *target,
                               const pycds_module_view *view)
{
    if (!source_unchanged(name, view))
        return plain_spec(name, path, target); /* it reads the changed file */
    size_t size = view->origin_size;
    int sourceless =
        size > 4 && memcmp(view->origin + size - 4, ".pyc", 4) == 0;
    PyObject *origin = origin_of(view);
    PyObject *loader = NULL;
    if (origin && view->kind == PYCDS_RECORD_EXTENSION) {
        /* Found without a search; loaded by its usual loader. */
        loader = PyObject_CallFunctionObjArgs(finder.extension_loader, name,
                                              origin, NULL);
        if (loader && pycds_share_verbosity() >= 1)
            pycds_say("pycds: hit %U (extension module)\n", name);
    } else if (origin)
        loader = archived_loader(sourceless ? finder.archived_sourceless
                                            : finder.archived_source,
                                 name, origin, view->number);
    PyObject *spec =
        loader ? file_spec(name, loader, origin, view->is_package) : NULL;
    Py_XDECREF(origin);
    Py_XDECREF(loader);
    return spec;
}

static PyObject *finder_find_spec(PyObject *self, PyObject *args,
                                  PyObject *kwargs)
{
    (void)self;
    static char *keywords[] = {"fullname", "path", "target", NULL};
    PyObject *name, *path = Py_None, *target = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "U|OO:find_spec", keywords,
                                     &name, &path, &target))
        return NULL;
    pycds_module_view view;
    int found = pycds_share_find(name, &view);
    if (found < 0)
        return NULL;
    if (found == 0)
        return explained_plain_spec(name, path, target, "not in the archive");
    int fast = pycds_search_path_holds(name, path, &view);
    if (fast < 0)
        return NULL;
    if (pycds_share_verbosity() >= 2)
        pycds_say("pycds: find %U: %s\n", name,
                  !fast                              ? "searching"
                  : view.kind == PYCDS_RECORD_ABSENT ? "absent, as recorded"
                                                     : "recorded path still "
                                                       "valid");
    switch (view.kind) {
    case PYCDS_RECORD_ABSENT:
        return fast ? Py_NewRef(Py_None)
                    : explained_plain_spec(name, path, target,
                                           "recorded absent, found now");
    case PYCDS_RECORD_EXTENSION:
        if (!fast)
            return explained_plain_spec(name, path, target,
                                        "extension module's recorded path "
                                        "no longer holds");
        return recorded_spec(name, path, target, &view);
    case PYCDS_RECORD_CODE:
    default:
        return fast ? recorded_spec(name, path, target, &view)
                    : searched_spec(name, path, target, &view);
    }
}

/* importlib.invalidate_caches(): read search path entries anew, and let
 * PathFinder clear its own caches. */
static PyObject *finder_invalidate_caches(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    pycds_search_path_forget();
    return PyObject_CallMethod(finder.path_finder, "invalidate_caches", NULL);
}

/* importlib.metadata asks each finder on sys.meta_path: PathFinder's. */
static PyObject *finder_find_distributions(PyObject *self, PyObject *args,
                                           PyObject *kwargs)
{
    (void)self;
    PyObject *method =
        PyObject_GetAttrString(finder.path_finder, "find_distributions");
    if (!method)
        return NULL;
    PyObject *result = PyObject_Call(method, args, kwargs);
    Py_DECREF(method);
    return result;
}

/* Anything else PathFinder has is PathFinder's. */
static PyObject *finder_getattro(PyObject *self, PyObject *name)
{
    PyObject *value = PyObject_GenericGetAttr(self, name);
    if (value || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return value;
    PyErr_Clear();
    return PyObject_GetAttr(finder.path_finder, name);
}

static PyObject *finder_repr(PyObject *self)
{
    (void)self;
    return PyUnicode_FromString("<pycds._cds.ArchiveFinder, standing in for "
                                "PathFinder>");
}

static PyMethodDef finder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))finder_find_spec,
     METH_VARARGS | METH_KEYWORDS,
     "find_spec(fullname, path=None, target=None): PathFinder's answer, from\n"
     "the archive when its record proves what that answer is."},
    {"invalidate_caches", finder_invalidate_caches, METH_NOARGS,
     "invalidate_caches(): read directories anew; PathFinder's too."},
    {"find_distributions",
     (PyCFunction)(void (*)(void))finder_find_distributions,
     METH_VARARGS | METH_KEYWORDS, "PathFinder.find_distributions."},
    {NULL, NULL, 0, NULL},
};

static PyObject *finder_new(PyTypeObject *type, PyObject *args,
                            PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) || (kwargs && PyDict_GET_SIZE(kwargs))) {
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "ArchiveFinder() takes no arguments");
    }
    /* The path hooks python starts with: a finder for an entry not yet
     * searched is a plain FileFinder while they are unchanged. */
    PyObject *hooks = PySys_GetObject("path_hooks");
    PyObject *snapshot = hooks ? PySequence_Tuple(hooks) : PyTuple_New(0);
    if (!snapshot)
        return NULL;
    pycds_search_path_set_hooks(snapshot);
    return type->tp_alloc(type, 0);
}

static PyType_Slot finder_slots[] = {
    {Py_tp_methods, finder_methods},
    {Py_tp_new, finder_new},
    {Py_tp_getattro, finder_getattro},
    {Py_tp_repr, finder_repr},
    {Py_tp_doc, "ArchiveFinder(): stands in for PathFinder on sys.meta_path,\n"
                "answering from the archive where it can."},
    {0, NULL},
};

static PyType_Spec finder_spec = {
    .name = "pycds._cds.ArchiveFinder",
    .basicsize = sizeof(FinderObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = finder_slots,
};

static PyObject *intern(const char *text)
{
    return PyUnicode_InternFromString(text);
}

int pycds_finder_init(PyObject *module)
{
    PyObject *bootstrap = PyImport_ImportModule("_frozen_importlib");
    if (!bootstrap)
        return -1;
    finder.module_spec = PyObject_GetAttrString(bootstrap, "ModuleSpec");
    finder.frames_removed =
        PyObject_GetAttrString(bootstrap, "_call_with_frames_removed");
    Py_DECREF(bootstrap);
    PyObject *builtins = PyImport_ImportModule("builtins");
    finder.exec = builtins ? PyObject_GetAttrString(builtins, "exec") : NULL;
    Py_XDECREF(builtins);
    if (!finder.module_spec || !finder.frames_removed || !finder.exec ||
        pycds_search_path_init() < 0)
        return -1;
    PyObject *external = PyImport_ImportModule("_frozen_importlib_external");
    if (!external)
        return -1;
    finder.path_finder = PyObject_GetAttrString(external, "PathFinder");
    finder.source_loader = PyObject_GetAttrString(external, "SourceFileLoader");
    finder.sourceless_loader =
        PyObject_GetAttrString(external, "SourcelessFileLoader");
    finder.extension_loader =
        PyObject_GetAttrString(external, "ExtensionFileLoader");
    Py_DECREF(external);
    if (!finder.path_finder || !finder.source_loader ||
        !finder.sourceless_loader || !finder.extension_loader)
        return -1;
    /* The number goes after the larger of the two bases' instances. */
    Py_ssize_t a = ((PyTypeObject *)finder.source_loader)->tp_basicsize;
    Py_ssize_t b = ((PyTypeObject *)finder.sourceless_loader)->tp_basicsize;
    number_offset = ((a > b ? a : b) + 7) & ~(Py_ssize_t)7;
    finder.archived_source = make_loader_type("pycds._cds.ArchivedSourceLoader",
                                              finder.source_loader);
    finder.archived_sourceless = make_loader_type(
        "pycds._cds.ArchivedSourcelessLoader", finder.sourceless_loader);
    PyObject *finder_type = PyType_FromSpec(&finder_spec);
    finder.str_find_spec = intern("find_spec");
    finder.str_loader = intern("loader");
    finder.str_origin = intern("origin");
    finder.str_locations = intern("submodule_search_locations");
    finder.str_name = intern("name");
    finder.str_get_code = intern("get_code");
    finder.str_dict = intern("__dict__");
    finder.str_dunder_name = intern("__name__");
    finder.str_set_fileattr = intern("_set_fileattr");
    if (!finder.archived_source || !finder.archived_sourceless ||
        !finder_type || !finder.str_find_spec || !finder.str_loader ||
        !finder.str_origin || !finder.str_locations || !finder.str_name ||
        !finder.str_get_code || !finder.str_dict || !finder.str_dunder_name ||
        !finder.str_set_fileattr ||
        PyModule_AddObjectRef(module, "ArchivedSourceLoader",
                              finder.archived_source) < 0 ||
        PyModule_AddObjectRef(module, "ArchivedSourcelessLoader",
                              finder.archived_sourceless) < 0 ||
        PyModule_AddObject(module, "ArchiveFinder", finder_type) < 0)
        return -1;
    return 0;
}
