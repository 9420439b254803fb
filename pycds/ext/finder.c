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
#include "fastpath.h"
#include "say.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "share.h"

#include "cds/cds.h"

static struct {
    PyObject *module_spec;       /* importlib's ModuleSpec */
    PyObject *entry_states;      /* {fs path bytes: mtime_ns or -1} */
    PyObject *listings;          /* {fs path bytes: set of names, or None} */
    PyObject *suffixes;          /* file suffixes FileFinder tries, in order */
    PyObject *path_finder;       /* importlib's PathFinder */
    PyObject *source_loader;     /* SourceFileLoader */
    PyObject *sourceless_loader; /* SourcelessFileLoader */
    PyObject *extension_loader;  /* ExtensionFileLoader */
    PyObject *archived_source;   /* our subclasses of the two */
    PyObject *archived_sourceless;
    PyObject *str_find_spec, *str_loader, *str_origin, *str_locations,
        *str_name, *str_number, *str_get_code, *str_dot;
} finder;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fallback(PyObject *name, const char *reason)
{
    if (pycds_share_verbosity() >= 1)
        pycds_say("pycds: fallback %U: %s\n", name, reason);
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
        } else if (pycds_share_verbosity() >= 2) {
            /* PyUnicode_FromFormat has no %f: tenths of microseconds. */
            unsigned long tenths = (unsigned long)((now_ns() - start) / 100);
            pycds_say("pycds: hit %U (%lu.%lu us)\n", fullname, tenths / 10,
                      tenths % 10);
        } else if (pycds_share_verbosity() >= 1) {
            pycds_say("pycds: hit %U\n", fullname);
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

/* ------------------------------------------------------------- fast path */

/*
 * The dumper records, per module, the search path up to the entry where the
 * module was found and the state (mtime) of those entries and of a
 * package's own directory: the fast-path record (fastpath.h).  Adding,
 * removing or renaming a file in a directory changes its mtime, so if the
 * search path starts the same and no mtime moved, plain finding would land
 * on the same file: no search needed.  Entry states are read once per
 * process, and again after importlib.invalidate_caches() -- as FileFinder's
 * directory caches are.
 */

/* mtime_ns of a search path entry (-1 if missing), stat'ed once. */
static int entry_state(const char *path, size_t size, int64_t *state)
{
    PyObject *key = PyBytes_FromStringAndSize(path, (Py_ssize_t)size);
    if (!key)
        return -1;
    PyObject *known = PyDict_GetItemWithError(finder.entry_states, key);
    if (!known && !PyErr_Occurred()) {
        struct stat st;
        int64_t mtime =
            stat(PyBytes_AS_STRING(key), &st) != 0
                ? -1
                : (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        known = PyLong_FromLongLong(mtime);
        if (known && PyDict_SetItem(finder.entry_states, key, known) < 0)
            Py_CLEAR(known);
        Py_XDECREF(known); /* the dict holds it */
    }
    Py_DECREF(key);
    if (!known)
        return -1;
    *state = PyLong_AsLongLong(known);
    return 0;
}

/* Whether search entry `entry` (str) is the recorded path; '' is the working
 * directory, as for PathFinder. */
static int same_entry(PyObject *entry, const char *path, size_t size)
{
    if (!PyUnicode_Check(entry))
        return 0;
    if (PyUnicode_GET_LENGTH(entry) == 0) {
        char cwd[PATH_MAX];
        return getcwd(cwd, sizeof cwd) && strlen(cwd) == size &&
               memcmp(cwd, path, size) == 0;
    }
    return same_origin(entry, path, size);
}

/* The names in a directory (None if it is not one), listed once. */
static PyObject *listing(const char *path, size_t size)
{
    PyObject *key = PyBytes_FromStringAndSize(path, (Py_ssize_t)size);
    if (!key)
        return NULL;
    PyObject *names = PyDict_GetItemWithError(finder.listings, key);
    if (names || PyErr_Occurred()) {
        Py_DECREF(key);
        return names;
    }
    DIR *dir = opendir(PyBytes_AS_STRING(key));
    names = dir ? PySet_New(NULL) : Py_NewRef(Py_None);
    struct dirent *entry;
    while (dir && names && (entry = readdir(dir))) {
        PyObject *name = PyUnicode_DecodeFSDefault(entry->d_name);
        if (!name || PySet_Add(names, name) < 0)
            Py_CLEAR(names);
        Py_XDECREF(name);
    }
    if (dir)
        closedir(dir);
    if (names && PyDict_SetItem(finder.listings, key, names) < 0)
        Py_CLEAR(names);
    Py_XDECREF(names); /* the dict holds it */
    Py_DECREF(key);
    return names;
}

/* Whether directory `path` holds anything FileFinder could take for the
 * module whose last name part is `tail`: 1 yes (or unsure), 0 no, -1 error. */
static int may_provide(const char *path, size_t size, PyObject *tail)
{
    PyObject *names = listing(path, size);
    if (!names)
        return -1;
    if (names == Py_None)
        return 1; /* not a listable directory: a zip file, say */
    int found = PySet_Contains(names, tail);
    for (Py_ssize_t i = 0; !found && i < PyList_GET_SIZE(finder.suffixes);
         i++) {
        PyObject *candidate =
            PyUnicode_Concat(tail, PyList_GET_ITEM(finder.suffixes, i));
        found = candidate ? PySet_Contains(names, candidate) : -1;
        Py_XDECREF(candidate);
    }
    return found;
}

/* 1 when the record proves plain finding would take the archived file,
 * 0 when it does not (search instead), -1 on error. */
static int fast_path_valid(PyObject *name, PyObject *path,
                           const pycds_module_view *view)
{
    if (view->extra_size == 0)
        return 0;
    PyObject *search = path == Py_None ? PySys_GetObject("path") : path;
    if (!search)
        return 0;
    PyObject *entries = PySequence_Fast(search, "search path");
    if (!entries) {
        PyErr_Clear();
        return 0;
    }
    PyObject *tail = NULL;
    int valid = 1;
    Py_ssize_t next = 0, count = PySequence_Fast_GET_SIZE(entries);
    const char *at = view->extra, *end = view->extra + view->extra_size;
    pycds_fastpath_line line;
    while (valid == 1) {
        int got = pycds_fastpath_next(&at, end, &line);
        if (got <= 0) {
            valid = got == 0; /* a malformed record proves nothing */
            break;
        }
        if (line.kind == PYCDS_FASTPATH_PREFIX) {
            valid = next < count &&
                    same_entry(PySequence_Fast_GET_ITEM(entries, next),
                               line.path, line.path_size);
            next++;
            continue;
        }
        int64_t now;
        if (entry_state(line.path, line.path_size, &now) < 0)
            valid = -1;
        else if (now != line.state && line.kind == PYCDS_FASTPATH_EARLIER) {
            /* An earlier entry changed: fine if it still holds nothing
             * under the module's name. */
            if (!tail) {
                PyObject *parts = PyUnicode_RPartition(name, finder.str_dot);
                tail = parts ? Py_NewRef(PyTuple_GET_ITEM(parts, 2)) : NULL;
                Py_XDECREF(parts);
            }
            int provides =
                tail ? may_provide(line.path, line.path_size, tail) : -1;
            valid = provides < 0 ? -1 : !provides;
        } else {
            valid = now == line.state;
        }
    }
    Py_XDECREF(tail);
    Py_DECREF(entries);
    return valid;
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
    if (PyObject_SetAttrString(spec, "_set_fileattr", Py_True) < 0 ||
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

/* ----------------------------------------------------------------- finder */

typedef struct {
    PyObject_HEAD
} FinderObject;

/* Whether the file's contents hash to what the dump recorded. */
static int same_contents(const char *file, const pycds_module_view *view)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return 0;
    size_t size = (size_t)view->source_size;
    char *data = PyMem_Malloc(size ? size : 1);
    int same = data && fread(data, 1, size, f) == size && fgetc(f) == EOF &&
               cds_hash(data, size) == view->source_hash;
    PyMem_Free(data);
    fclose(f);
    return same;
}

/* Whether the archived file is still what the dump read: by size and
 * modification time, by contents too (PYCDSVALIDATE=hash), or assumed
 * (PYCDSVALIDATE=none). */
static int source_unchanged(PyObject *name, const pycds_module_view *view)
{
    if (pycds_share_validation() == PYCDS_VALIDATE_NONE)
        return 1;
    char file[PATH_MAX];
    if (view->origin_size >= sizeof file) {
        fallback(name, "source path too long");
        return 0;
    }
    memcpy(file, view->origin, view->origin_size);
    file[view->origin_size] = '\0';
    struct stat st;
    if (stat(file, &st) != 0) {
        fallback(name, "source no longer readable");
        return 0;
    }
    int64_t mtime_ns =
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime_ns != view->source_mtime_ns ||
        (uint64_t)st.st_size != view->source_size) {
        fallback(name, "source changed since the dump");
        return 0;
    }
    if (pycds_share_validation() == PYCDS_VALIDATE_HASH &&
        !same_contents(file, view)) {
        fallback(name, "source contents changed since the dump");
        return 0;
    }
    return 1;
}

/* A loader of class `archived` for the module, serving archive entry
 * view->number. */
static PyObject *archived_loader(PyObject *archived, PyObject *name,
                                 PyObject *origin,
                                 const pycds_module_view *view)
{
    PyObject *loader =
        PyObject_CallFunctionObjArgs(archived, name, origin, NULL);
    PyObject *number = loader ? PyLong_FromUnsignedLong(view->number) : NULL;
    if (!number || PyObject_SetAttr(loader, finder.str_number, number) < 0) {
        Py_XDECREF(number);
        Py_XDECREF(loader);
        return NULL;
    }
    Py_DECREF(number);
    return loader;
}

static PyObject *origin_of(const pycds_module_view *view)
{
    return PyUnicode_DecodeFSDefaultAndSize(view->origin,
                                            (Py_ssize_t)view->origin_size);
}

/* What plain finding gives: PathFinder's spec. */
static PyObject *plain_spec(PyObject *name, PyObject *path, PyObject *target)
{
    return PyObject_CallMethodObjArgs(finder.path_finder, finder.str_find_spec,
                                      name, path, target, NULL);
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
    if (!archived || !same_origin(origin, view->origin, view->origin_size))
        fallback(name, "now found elsewhere or by another loader");
    else if ((locations != Py_None) != view->is_package)
        fallback(name, "package or module changed");
    else if (source_unchanged(name, view)) {
        new_loader = archived_loader(archived, name, origin, view);
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
    if (origin && view->is_extension)
        loader = PyObject_CallFunctionObjArgs(finder.extension_loader, name,
                                              origin, NULL);
    else if (origin)
        loader = archived_loader(sourceless ? finder.archived_sourceless
                                            : finder.archived_source,
                                 name, origin, view);
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
    if (found <= 0)
        return found < 0 ? NULL : Py_NewRef(Py_None);
    int fast = fast_path_valid(name, path, &view);
    if (fast < 0)
        return NULL;
    if (pycds_share_verbosity() >= 2)
        pycds_say("pycds: find %U: %s\n", name,
                  fast ? "recorded path still valid" : "searching");
    if (fast)
        return recorded_spec(name, path, target, &view);
    return view.is_extension ? plain_spec(name, path, target)
                             : searched_spec(name, path, target, &view);
}

/* importlib.invalidate_caches(): read search path entries anew. */
static PyObject *finder_invalidate_caches(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    PyDict_Clear(finder.entry_states);
    PyDict_Clear(finder.listings);
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
    PyObject *bootstrap = PyImport_ImportModule("_frozen_importlib");
    if (!bootstrap)
        return -1;
    finder.module_spec = PyObject_GetAttrString(bootstrap, "ModuleSpec");
    Py_DECREF(bootstrap);
    finder.entry_states = PyDict_New();
    finder.listings = PyDict_New();
    if (!finder.module_spec || !finder.entry_states || !finder.listings)
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
    /* FileFinder's suffixes: extension modules, sources, bytecode. */
    PyObject *loaders =
        PyObject_CallMethod(external, "_get_supported_file_loaders", NULL);
    Py_DECREF(external);
    finder.suffixes = PyList_New(0);
    for (Py_ssize_t i = 0;
         loaders && finder.suffixes && i < PyList_GET_SIZE(loaders); i++) {
        PyObject *pair_suffixes =
            PyTuple_GET_ITEM(PyList_GET_ITEM(loaders, i), 1);
        PyObject *extended =
            PySequence_InPlaceConcat(finder.suffixes, pair_suffixes);
        Py_XDECREF(extended);
        if (!extended)
            Py_CLEAR(finder.suffixes);
    }
    Py_XDECREF(loaders);
    if (!finder.suffixes)
        return -1;
    if (!finder.path_finder || !finder.source_loader ||
        !finder.sourceless_loader || !finder.extension_loader)
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
    finder.str_dot = PyUnicode_InternFromString(".");
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
