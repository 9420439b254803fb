/*
 * finder.c - the meta-path finder and the loaders that serve archived code.
 *
 * ArchiveFinder sits just before PathFinder on sys.meta_path.  For a module
 * in the archive it asks PathFinder where plain importing would find the
 * module -- so sys.path order, shadowing, the parent package's __path__ and
 * namespace packages are honoured exactly -- and only if that is the same
 * file, unchanged in size and modification time since the dump, does it
 * swap in a loader whose get_code returns the archived code object instead
 * of reading and unmarshalling a .pyc.  Anything else gets plain importing.
 *
 * The loaders are subclasses of SourceFileLoader and SourcelessFileLoader
 * created here, so get_source, get_data, get_filename, is_package,
 * get_resource_reader, exec_module and the module's attributes are those of
 * plain importing.
 */
#include "finder.h"

#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "share.h"

static struct {
    PyObject *path_finder;       /* importlib's PathFinder */
    PyObject *source_loader;     /* SourceFileLoader */
    PyObject *sourceless_loader; /* SourcelessFileLoader */
    PyObject *archived_source;   /* our subclasses of the two */
    PyObject *archived_sourceless;
    PyObject *str_find_spec, *str_loader, *str_origin, *str_locations,
        *str_name, *str_number, *str_get_code;
    int verbose;
} finder;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fallback(PyObject *name, const char *reason)
{
    if (finder.verbose >= 1)
        PySys_FormatStderr("pycds: fallback %U: %s\n", name, reason);
}

/* ---------------------------------------------------------------- loaders */

/* get_code(fullname): the archived code once, then what the base gives. */
static PyObject *archived_get_code(PyObject *self, PyObject *fullname)
{
    PyObject *number = PyObject_GetAttr(self, finder.str_number);
    PyObject *name = number ? PyObject_GetAttr(self, finder.str_name) : NULL;
    if (!name) {
        Py_XDECREF(number);
        return NULL;
    }
    PyObject *code = NULL;
    if (number != Py_None && PyUnicode_Check(fullname) &&
        PyUnicode_Compare(name, fullname) == 0) {
        /* Served once: a later get_code (e.g. reload) validates anew. */
        if (PyObject_SetAttr(self, finder.str_number, Py_None) < 0)
            goto done;
        uint64_t start = now_ns();
        code = pycds_share_code(NULL, number);
        if (!code) {
            PyObject *error = pycds_error_text();
            fallback(fullname, error ? PyUnicode_AsUTF8(error) : "refused");
            Py_XDECREF(error);
            PyErr_Clear();
        } else if (code == Py_None) {
            Py_CLEAR(code);
            fallback(fullname, "not served in this state");
        } else if (finder.verbose >= 2) {
            /* PyUnicode_FromFormat has no %f: tenths of microseconds. */
            unsigned long tenths = (unsigned long)((now_ns() - start) / 100);
            PySys_FormatStderr("pycds: hit %U (%lu.%lu us)\n", fullname,
                               tenths / 10, tenths % 10);
        } else if (finder.verbose >= 1) {
            PySys_FormatStderr("pycds: hit %U\n", fullname);
        }
    }
    if (!code) {
        /* The base class's get_code, as plain importing would run it. */
        PyObject *base = PyTuple_GET_ITEM(Py_TYPE(self)->tp_bases, 0);
        PyObject *method = PyObject_GetAttr(base, finder.str_get_code);
        if (method) {
            code = PyObject_CallFunctionObjArgs(method, self, fullname, NULL);
            Py_DECREF(method);
        }
    }
done:
    Py_DECREF(name);
    Py_DECREF(number);
    return code;
}

static PyMethodDef archived_loader_methods[] = {
    {"get_code", archived_get_code, METH_O,
     "get_code(fullname): the archived code object the first time, then the\n"
     "base loader's get_code."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot archived_loader_slots[] = {
    {Py_tp_methods, archived_loader_methods},
    {Py_tp_doc, "A file loader whose get_code is served from the archive."},
    {0, NULL},
};

static PyObject *make_loader_type(const char *name, PyObject *base)
{
    PyType_Spec spec = {
        .name = name,
        .basicsize = 0, /* as the base: instances keep a __dict__ */
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

/* ----------------------------------------------------------------- finder */

typedef struct {
    PyObject_HEAD
} FinderObject;

/* Whether a spec's origin (str) names the archived path (bytes). */
static int same_origin(PyObject *origin, const char *path, size_t size)
{
    if (!PyUnicode_Check(origin))
        return 0;
    PyObject *encoded = PyUnicode_EncodeFSDefault(origin);
    if (!encoded) {
        PyErr_Clear();
        return 0;
    }
    int same = (size_t)PyBytes_GET_SIZE(encoded) == size &&
               memcmp(PyBytes_AS_STRING(encoded), path, size) == 0;
    Py_DECREF(encoded);
    return same;
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
    if (found <= 0)
        return found < 0 ? NULL : Py_NewRef(Py_None);

    PyObject *spec = PyObject_CallMethodObjArgs(
        finder.path_finder, finder.str_find_spec, name, path, target, NULL);
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
    if (!locations)
        goto error;

    if ((PyObject *)Py_TYPE(loader) == finder.source_loader)
        archived = finder.archived_source;
    else if ((PyObject *)Py_TYPE(loader) == finder.sourceless_loader)
        archived = finder.archived_sourceless;
    if (!archived || !same_origin(origin, view.origin, view.origin_size)) {
        fallback(name, "now found elsewhere or by another loader");
        goto plain;
    }
    if ((locations != Py_None) != view.is_package) {
        fallback(name, "package or module changed");
        goto plain;
    }
    char file[PATH_MAX];
    if (view.origin_size >= sizeof file) {
        fallback(name, "source path too long");
        goto plain;
    }
    memcpy(file, view.origin, view.origin_size);
    file[view.origin_size] = '\0';
    struct stat st;
    if (stat(file, &st) != 0) {
        fallback(name, "source no longer readable");
        goto plain;
    }
    int64_t mtime_ns =
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime_ns != view.source_mtime_ns ||
        (uint64_t)st.st_size != view.source_size) {
        fallback(name, "source changed since the dump");
        goto plain;
    }
    new_loader = PyObject_CallFunctionObjArgs(archived, name, origin, NULL);
    PyObject *number = new_loader ? PyLong_FromUnsignedLong(view.number) : NULL;
    if (!number ||
        PyObject_SetAttr(new_loader, finder.str_number, number) < 0 ||
        PyObject_SetAttr(spec, finder.str_loader, new_loader) < 0) {
        Py_XDECREF(number);
        goto error;
    }
    Py_DECREF(number);
plain:
    Py_XDECREF(new_loader);
    Py_DECREF(loader);
    Py_DECREF(origin);
    Py_DECREF(locations);
    return spec;
error:
    Py_XDECREF(new_loader);
    Py_XDECREF(loader);
    Py_XDECREF(origin);
    Py_XDECREF(locations);
    Py_DECREF(spec);
    return NULL;
}

static PyObject *finder_invalidate_caches(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    Py_RETURN_NONE;
}

static PyMethodDef finder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))finder_find_spec,
     METH_VARARGS | METH_KEYWORDS,
     "find_spec(fullname, path=None, target=None): the plain spec with an\n"
     "archived loader when the archive holds this very module unchanged."},
    {"invalidate_caches", finder_invalidate_caches, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot finder_slots[] = {
    {Py_tp_methods, finder_methods},
    {Py_tp_doc, "ArchiveFinder(): the meta-path finder for archived modules."},
    {0, NULL},
};

static PyType_Spec finder_spec = {
    .name = "pycds._cds.ArchiveFinder",
    .basicsize = sizeof(FinderObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = finder_slots,
};

int pycds_finder_init(PyObject *module)
{
    PyObject *external = PyImport_ImportModule("_frozen_importlib_external");
    if (!external)
        return -1;
    finder.path_finder = PyObject_GetAttrString(external, "PathFinder");
    finder.source_loader = PyObject_GetAttrString(external, "SourceFileLoader");
    finder.sourceless_loader =
        PyObject_GetAttrString(external, "SourcelessFileLoader");
    Py_DECREF(external);
    if (!finder.path_finder || !finder.source_loader ||
        !finder.sourceless_loader)
        return -1;
    finder.archived_source = make_loader_type("pycds._cds.ArchivedSourceLoader",
                                              finder.source_loader);
    finder.archived_sourceless = make_loader_type(
        "pycds._cds.ArchivedSourcelessLoader", finder.sourceless_loader);
    PyObject *finder_type = PyType_FromSpec(&finder_spec);
    finder.str_find_spec = PyUnicode_InternFromString("find_spec");
    finder.str_loader = PyUnicode_InternFromString("loader");
    finder.str_origin = PyUnicode_InternFromString("origin");
    finder.str_locations =
        PyUnicode_InternFromString("submodule_search_locations");
    finder.str_name = PyUnicode_InternFromString("name");
    finder.str_number = PyUnicode_InternFromString("_pycds_number");
    finder.str_get_code = PyUnicode_InternFromString("get_code");
    if (!finder.archived_source || !finder.archived_sourceless ||
        !finder_type || !finder.str_get_code ||
        PyModule_AddObjectRef(module, "ArchivedSourceLoader",
                              finder.archived_source) < 0 ||
        PyModule_AddObjectRef(module, "ArchivedSourcelessLoader",
                              finder.archived_sourceless) < 0 ||
        PyModule_AddObject(module, "ArchiveFinder", finder_type) < 0)
        return -1;
    return 0;
}

void pycds_finder_set_verbose(int level)
{
    finder.verbose = level;
}
