/*
 * searchpath.c - whether a module's recorded search path still holds (see
 * searchpath.h): the fast-path records of fastpath.h checked against this
 * process's search path, directories and path hooks.
 */
#include "searchpath.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastpath.h"

static struct {
    PyObject *entry_states;  /* {fs path bytes: mtime_ns or -1} */
    PyObject *listings;      /* {fs path bytes: set of names, or None} */
    PyObject *suffixes;      /* file suffixes FileFinder tries, in order */
    PyObject *file_finder;   /* FileFinder */
    PyObject *default_hooks; /* sys.path_hooks when the finder was made */
    PyObject *str_dot;
} search;

/* Whether a spec's origin (str) names the archived path (bytes). */
int pycds_same_origin(PyObject *origin, const char *path, size_t size)
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

/*
 * The dumper records, per module, the search path up to the entry where the
 * module was found and the state (mtime) of those entries and of a
 * package's own directory; for an absent name, the whole search path and
 * the state of each entry (the fast-path record, fastpath.h).  Adding,
 * removing or renaming a file in a directory changes its mtime, so if the
 * search path starts the same (is the same, for an absent name), no mtime
 * moved and each entry is still served by a plain FileFinder, plain finding
 * would land on the same file, or on nothing: no search needed.  Entry
 * states are read once per process, and again after
 * importlib.invalidate_caches() -- as FileFinder's directory caches are.
 */

/* mtime_ns of a search path entry (-1 if missing), stat'ed once. */
static int entry_state(const char *path, size_t size, int64_t *state)
{
    PyObject *key = PyBytes_FromStringAndSize(path, (Py_ssize_t)size);
    if (!key)
        return -1;
    PyObject *known = PyDict_GetItemWithError(search.entry_states, key);
    if (!known && !PyErr_Occurred()) {
        struct stat st;
        int64_t mtime =
            stat(PyBytes_AS_STRING(key), &st) != 0
                ? -1
                : (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        known = PyLong_FromLongLong(mtime);
        if (known && PyDict_SetItem(search.entry_states, key, known) < 0)
            Py_CLEAR(known);
        Py_XDECREF(known); /* the dict holds it */
    }
    Py_DECREF(key);
    if (!known)
        return -1;
    *state = PyLong_AsLongLong(known);
    return 0;
}

/* The working directory, read once per find_spec call (PathFinder reads it
 * for every search that has a '' entry; it may change between calls). */
typedef struct working_directory {
    int state; /* 0: not read yet, 1: read, -1: unreadable */
    size_t size;
    char path[PATH_MAX];
} working_directory;

static const char *cwd_of(working_directory *cwd, size_t *size)
{
    if (cwd->state == 0) {
        cwd->state = getcwd(cwd->path, sizeof cwd->path) ? 1 : -1;
        cwd->size = cwd->state == 1 ? strlen(cwd->path) : 0;
    }
    *size = cwd->size;
    return cwd->state == 1 ? cwd->path : NULL;
}

/* Whether search entry `entry` (str) is the recorded path; '' is the working
 * directory, as for PathFinder. */
static int same_entry(PyObject *entry, const char *path, size_t size,
                      working_directory *cwd)
{
    if (!PyUnicode_Check(entry))
        return 0;
    if (PyUnicode_GET_LENGTH(entry) == 0) {
        size_t cwd_size;
        const char *dir = cwd_of(cwd, &cwd_size);
        return dir && cwd_size == size && memcmp(dir, path, size) == 0;
    }
    return pycds_same_origin(entry, path, size);
}

/*
 * Whether PathFinder would search `entry` with a plain FileFinder (or skip
 * it, when no hook takes it): 1 yes, 0 no (a path hook or finder of the
 * program's own has a say), -1 on error.
 */
static int plain_finder_for(PyObject *entry, working_directory *cwd)
{
    PyObject *cache = PySys_GetObject("path_importer_cache"); /* borrowed */
    if (!cache || !PyDict_Check(cache))
        return 0;
    PyObject *key = NULL;
    if (PyUnicode_GET_LENGTH(entry)) {
        key = Py_NewRef(entry);
    } else {
        size_t size;
        const char *dir = cwd_of(cwd, &size);
        key = dir ? PyUnicode_DecodeFSDefaultAndSize(dir, (Py_ssize_t)size)
                  : NULL;
    }
    if (!key) {
        PyErr_Clear();
        return 0;
    }
    PyObject *cached = PyDict_GetItemWithError(cache, key);
    Py_DECREF(key);
    if (cached)
        return cached == Py_None ||
               (PyObject *)Py_TYPE(cached) == search.file_finder;
    if (PyErr_Occurred())
        return -1;
    /* Not searched yet: the path hooks would be asked; they must be
     * python's own. */
    PyObject *hooks = PySys_GetObject("path_hooks"); /* borrowed */
    if (!hooks || !PyList_Check(hooks) ||
        PyList_GET_SIZE(hooks) != PyTuple_GET_SIZE(search.default_hooks))
        return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(hooks); i++)
        if (PyList_GET_ITEM(hooks, i) !=
            PyTuple_GET_ITEM(search.default_hooks, i))
            return 0;
    return 1;
}

/* The names in a directory (None if it is not one), listed once. */
static PyObject *listing(const char *path, size_t size)
{
    PyObject *key = PyBytes_FromStringAndSize(path, (Py_ssize_t)size);
    if (!key)
        return NULL;
    PyObject *names = PyDict_GetItemWithError(search.listings, key);
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
    if (names && PyDict_SetItem(search.listings, key, names) < 0)
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
    for (Py_ssize_t i = 0; !found && i < PyList_GET_SIZE(search.suffixes);
         i++) {
        PyObject *candidate =
            PyUnicode_Concat(tail, PyList_GET_ITEM(search.suffixes, i));
        found = candidate ? PySet_Contains(names, candidate) : -1;
        Py_XDECREF(candidate);
    }
    return found;
}

/* 1 when the record proves what plain finding would do (take the archived
 * file; for an absent name, find nothing), 0 when it does not (search
 * instead), -1 on error. */
int pycds_search_path_holds(PyObject *name, PyObject *path,
                            const pycds_module_view *view)
{
    if (view->extra_size == 0)
        return 0;
    PyObject *searched = path == Py_None ? PySys_GetObject("path") : path;
    if (!searched)
        return 0;
    PyObject *entries = PySequence_Fast(searched, "search path");
    if (!entries) {
        PyErr_Clear();
        return 0;
    }
    PyObject *tail = NULL;
    working_directory cwd = {0};
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
            PyObject *entry =
                next < count ? PySequence_Fast_GET_ITEM(entries, next) : NULL;
            valid = entry && same_entry(entry, line.path, line.path_size, &cwd);
            if (valid)
                valid = plain_finder_for(entry, &cwd);
            next++;
            continue;
        }
        int64_t now;
        if (entry_state(line.path, line.path_size, &now) < 0)
            valid = -1;
        else if (now != line.state && line.kind == PYCDS_FASTPATH_EARLIER) {
            /* An entry the module is not in changed: fine if it still
             * holds nothing under the module's name. */
            if (!tail) {
                PyObject *parts = PyUnicode_RPartition(name, search.str_dot);
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
    /* An absent name's record is the whole searched path: a longer one may
     * hold the name. */
    if (valid == 1 && view->kind == PYCDS_RECORD_ABSENT && next != count)
        valid = 0;
    Py_XDECREF(tail);
    Py_DECREF(entries);
    return valid;
}

int pycds_search_path_init(void)
{
    search.entry_states = PyDict_New();
    search.listings = PyDict_New();
    search.default_hooks = PyTuple_New(0);
    search.str_dot = PyUnicode_InternFromString(".");
    PyObject *external = PyImport_ImportModule("_frozen_importlib_external");
    if (!search.entry_states || !search.listings || !search.default_hooks ||
        !search.str_dot || !external) {
        Py_XDECREF(external);
        return -1;
    }
    search.file_finder = PyObject_GetAttrString(external, "FileFinder");
    /* FileFinder's suffixes: extension modules, sources, bytecode. */
    PyObject *loaders =
        PyObject_CallMethod(external, "_get_supported_file_loaders", NULL);
    search.suffixes = PyList_New(0);
    for (Py_ssize_t i = 0;
         loaders && search.suffixes && i < PyList_GET_SIZE(loaders); i++) {
        PyObject *pair_suffixes =
            PyTuple_GET_ITEM(PyList_GET_ITEM(loaders, i), 1);
        PyObject *extended =
            PySequence_InPlaceConcat(search.suffixes, pair_suffixes);
        Py_XDECREF(extended);
        if (!extended)
            Py_CLEAR(search.suffixes);
    }
    Py_XDECREF(loaders);
    Py_DECREF(external);
    return search.file_finder && search.suffixes ? 0 : -1;
}

void pycds_search_path_set_hooks(PyObject *hooks)
{
    Py_XSETREF(search.default_hooks, hooks);
}

void pycds_search_path_forget(void)
{
    PyDict_Clear(search.entry_states);
    PyDict_Clear(search.listings);
}
