/*
 * share.c - the share side: map this process's archive once, and turn an
 * archived module into a ready code object on its first import.
 *
 * Work is proportional to what is imported: opening validates and maps the
 * file (no per-module work); the first import of a module checks and
 * relocates that module's objects alone (modules share only interned
 * strings, interned by value when their owner is not loaded), interns its
 * names, rebuilds its frozenset constants, and gives its code objects what
 * the interpreter gives new code (versions, watcher events).
 *
 * The archive stays mapped until the process exits: interned-string tables
 * and functions point into it.  Only the pages of a module's run-once
 * objects (layout.h) are given back, once its body returned and nothing
 * refers to them: what plain Python frees when a body is done
 * (cds_archive_give_back).
 */
#include "share.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "os/array.h"
#include "os/clock.h"

#include "contents.h"
#include "error.h"
#include "trust.h"
#include "fingerprint.h"
#include "settings.h"
#include "layout.h"

/* MODULE_GIVEN_BACK: ready once, its run-once pages given back since, so
 * imported plainly again (its code is gone). */
enum module_state {
    MODULE_NEW,
    MODULE_REVIVING,
    MODULE_READY,
    MODULE_FAILED,
    MODULE_GIVEN_BACK
};

static struct {
    cds_archive *archive;
    PyObject *path;
    unsigned char *states;   /* enum module_state per module */
    unsigned char *imported; /* per module: its code was handed to an import */
    void *types[PYCDS_TYPE_COUNT];
    void *singletons[PYCDS_SINGLETON_COUNT];
    cds_symbols symbols;
    pycds_share_counters stats;
    int verbosity;               /* PYCDSVERBOSE */
    pycds_validation validation; /* PYCDSVALIDATE */
    uint32_t unit_count; /* unit records: with none, no unit is looked up */
    os_array ran;        /* uint32_t: modules whose bodies ran, not settled */
    os_array kept;       /* uint32_t: settled once, still referred to */
    uint64_t ran_since;  /* modules settled since kept was last looked at */
} shared = {.ran = OS_ARRAY_INIT(uint32_t), .kept = OS_ARRAY_INIT(uint32_t)};

/*
 * Interning, with a memory of redirections.  Many slots refer to the same
 * archived string; once it is interned in place, later slots see its
 * interned state and cost nothing, but when an equal string was interned
 * already the archived one stays uninterned and every slot would repeat the
 * dictionary lookup.  The table maps such archived strings to the string
 * they were redirected to.
 */
typedef struct redirect {
    PyObject *from, *to;
} redirect;

static struct {
    os_array slots; /* redirect; count: 0 or a power of two, all in use */
    size_t count;   /* slots holding a redirection */
} redirects = {OS_ARRAY_INIT(redirect), 0};

static size_t redirect_index(PyObject *from)
{
    uintptr_t h = (uintptr_t)from >> 3;
    h ^= h >> 17;
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 20) & (redirects.slots.count - 1);
}

static PyObject *redirect_find(PyObject *from)
{
    if (!redirects.count)
        return NULL;
    redirect *slots = redirects.slots.items;
    for (size_t i = redirect_index(from);;
         i = (i + 1) & (redirects.slots.count - 1)) {
        if (slots[i].from == from)
            return slots[i].to;
        if (!slots[i].from)
            return NULL;
    }
}

static void redirect_add(PyObject *from, PyObject *to)
{
    if (2 * (redirects.count + 1) > redirects.slots.count) {
        /* Twice the slots, all empty; the old ones' entries rehashed. */
        size_t capacity =
            redirects.slots.count ? redirects.slots.count * 2 : 4096;
        os_array old = redirects.slots;
        os_array grown = OS_ARRAY_INIT(redirect);
        if (!os_array_append(&grown, NULL, capacity))
            return; /* only a cache */
        redirects.slots = grown;
        redirect *slots = grown.items;
        for (size_t i = 0; i < old.count; i++) {
            redirect *entry = &OS_ARRAY_AT(&old, redirect, i);
            if (entry->from) {
                size_t j = redirect_index(entry->from);
                while (slots[j].from)
                    j = (j + 1) & (capacity - 1);
                slots[j] = *entry;
            }
        }
        os_array_free(&old);
    }
    redirect *slots = redirects.slots.items;
    size_t i = redirect_index(from);
    while (slots[i].from)
        i = (i + 1) & (redirects.slots.count - 1);
    slots[i] = (redirect){from, to};
    redirects.count++;
}

/*
 * Interning for one relocation slot, beyond the common case (the slot holds
 * a string an earlier slot interned in place; intern_slots tests that
 * inline).  The slot holds an archived string: usually one of the module
 * being prepared (relocated a moment ago), but modules share interned
 * strings without depending on each other, so it may be another module's
 * copy that is not relocated.  That one is used by value only: its
 * module's checksum is checked in the file, and a new string with the
 * characters the file holds is interned in its place.
 */
static int intern_slot(void **slot)
{
    PyObject *archived = *slot;
    PyObject *known = redirect_find(archived);
    if (known) {
        *slot = Py_NewRef(known); /* a reference owned by the slot */
        return 0;
    }
    if (Py_TYPE(archived) == &PyUnicode_Type) {
        if (pycds_intern((PyObject **)slot) < 0)
            return -1;
        if (*slot != archived)
            redirect_add(archived, *slot);
        return 0;
    }
    /* Read from the file, as the dumper wrote it: nothing of the other
     * module is read into this process's memory. */
    cds_status status;
    const PyObject *copy = cds_archive_file_bytes(
        shared.archive, archived, sizeof(PyASCIIObject), &status);
    if (copy)
        copy = cds_archive_file_bytes(shared.archive, archived,
                                      pycds_str_size(copy), &status);
    if (!copy)
        return pycds_fail(PYCDS_ERROR_VALUE, "shared string: %s",
                          cds_strerror(status));
    shared.stats.by_value++;
    PyObject *value = pycds_str_from_copy(copy);
    if (!value || pycds_intern(&value) < 0) {
        Py_XDECREF(value);
        return -1;
    }
    redirect_add(archived, value);
    *slot = value;
    return 0;
}

/* The module's intern slots (cds_symbols.intern). */
static int intern_slots(void *context, void **const *slots, size_t count)
{
    (void)context;
    for (size_t i = 0; i < count; i++) {
        /* Most slots: a string an earlier slot interned in place.  (A
         * string of a module not relocated yet has no type.) */
        PyObject *archived = *slots[i];
        if (Py_TYPE(archived) == &PyUnicode_Type &&
            PyUnicode_CHECK_INTERNED(archived))
            continue;
        if (intern_slot(slots[i]) < 0)
            return -1;
    }
    return 0;
}

/* This process's addresses of the types and singletons archives refer to.
 * The constructors below return the interpreter's shared instances; the
 * references taken are kept for the life of the process. */
static int build_symbols(void)
{
    void **t = shared.types;
    t[PYCDS_TYPE_STR] = &PyUnicode_Type;
    t[PYCDS_TYPE_BYTES] = &PyBytes_Type;
    t[PYCDS_TYPE_INT] = &PyLong_Type;
    t[PYCDS_TYPE_FLOAT] = &PyFloat_Type;
    t[PYCDS_TYPE_COMPLEX] = &PyComplex_Type;
    t[PYCDS_TYPE_TUPLE] = &PyTuple_Type;
    t[PYCDS_TYPE_CODE] = &PyCode_Type;

    void **s = shared.singletons;
    s[PYCDS_SINGLETON_NONE] = Py_None;
    s[PYCDS_SINGLETON_TRUE] = Py_True;
    s[PYCDS_SINGLETON_FALSE] = Py_False;
    s[PYCDS_SINGLETON_ELLIPSIS] = Py_Ellipsis;
    s[PYCDS_SINGLETON_EMPTY_STR] = PyUnicode_FromStringAndSize("", 0);
    s[PYCDS_SINGLETON_EMPTY_TUPLE] = PyTuple_New(0);
    s[PYCDS_SINGLETON_EMPTY_BYTES] = PyBytes_FromStringAndSize("", 0);
    for (int v = PYCDS_SMALL_INT_MIN; v <= PYCDS_SMALL_INT_MAX; v++)
        s[PYCDS_SINGLETON_SMALL_INTS + v - PYCDS_SMALL_INT_MIN] =
            PyLong_FromLong(v);
    for (int ch = 0; ch < 256; ch++)
        s[PYCDS_SINGLETON_LATIN1 + ch] = PyUnicode_FromOrdinal(ch);
    for (int i = 0; i < PYCDS_SINGLETON_COUNT; i++)
        if (!s[i])
            return -1;
    shared.symbols = (cds_symbols){
        .types = shared.types,
        .type_count = PYCDS_TYPE_COUNT,
        .singletons = shared.singletons,
        .singleton_count = PYCDS_SINGLETON_COUNT,
        .intern = intern_slots,
        .context = NULL,
    };
    return 0;
}

PyObject *pycds_share_open(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {"path", "verify_objects", "verbose", "validate",
                               NULL};
    PyObject *path;
    int verify = 0, verbose = 0;
    const char *validate = "mtime";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$pis:share_open",
                                     keywords, PyUnicode_FSConverter, &path,
                                     &verify, &verbose, &validate))
        return NULL;
    pycds_validation validation;
    if (strcmp(validate, "mtime") == 0)
        validation = PYCDS_VALIDATE_MTIME;
    else if (strcmp(validate, "hash") == 0)
        validation = PYCDS_VALIDATE_HASH;
    else if (strcmp(validate, "none") == 0)
        validation = PYCDS_VALIDATE_NONE;
    else {
        pycds_raise(PYCDS_ERROR_VALUE,
                    "PYCDSVALIDATE=%s: expected mtime, hash or none", validate);
        Py_DECREF(path);
        return NULL;
    }
    cds_diag refusal = {.status = PYCDS_STATUS_UNTRUSTED};
    if (pycds_check_trust(PyBytes_AS_STRING(path), refusal.message,
                          sizeof refusal.message) < 0) {
        pycds_raise_archive(PyBytes_AS_STRING(path), &refusal, refusal.status);
        Py_DECREF(path);
        return NULL;
    }
    if (shared.archive) {
        Py_DECREF(path);
        return pycds_raise(PYCDS_ERROR_RUNTIME, "an archive is already shared");
    }
    if (!pycds_in_main_interpreter()) {
        Py_DECREF(path);
        return pycds_raise(PYCDS_ERROR_RUNTIME,
                           "archives are served in the main interpreter only");
    }
    size_t fp_size;
    const char *fp = pycds_fingerprint(&fp_size);
    cds_diag diag = {0};
    cds_status status;
    cds_archive *archive = NULL;
    Py_BEGIN_ALLOW_THREADS
        status = cds_archive_open(
            &archive, PyBytes_AS_STRING(path), fp, fp_size,
            (verify ? CDS_OPEN_VERIFY_ALL : 0) |
                (validation == PYCDS_VALIDATE_NONE ? CDS_OPEN_TRUST_MODULES
                                                   : 0) |
                /* Prefaulting costs in proportion to the archive (1.8 ms
                 * for 16 MB, against 0.14 ms without), and most of it may
                 * never be used: pages are faulted in as modules are. */
                CDS_OPEN_NO_POPULATE,
            &diag);
    Py_END_ALLOW_THREADS
    if (status != CDS_OK) {
        pycds_raise_archive(PyBytes_AS_STRING(path), &diag, status);
        Py_DECREF(path);
        return NULL;
    }
    /* Made under other code settings: refused like a foreign build, before
     * anything is installed, and unmapped. */
    size_t record_size;
    const char *record = cds_archive_user(archive, &record_size);
    cds_diag settings = {.status = PYCDS_STATUS_SETTINGS};
    int mismatch = pycds_settings_mismatch(
        record, record_size, settings.message, sizeof settings.message);
    if (mismatch != 0) {
        cds_archive_close(archive);
        if (mismatch > 0)
            pycds_raise_archive(PyBytes_AS_STRING(path), &settings,
                                settings.status);
        Py_DECREF(path);
        return NULL;
    }
    uint32_t count = cds_archive_module_count(archive);
    /* The records were just read whole for their checksum: counting the
     * units among them touches no new page. */
    uint32_t units = 0;
    for (uint32_t m = 0; m < count; m++) {
        const cds_module_record *r = cds_archive_module(archive, m);
        units += r && (r->flags & PYCDS_MODULE_UNIT);
    }
    shared.states = PyMem_Calloc(2 * ((size_t)count + 1), 1);
    if (shared.states)
        shared.imported = shared.states + count + 1;
    if (!shared.states || build_symbols() < 0) {
        cds_archive_close(archive);
        PyMem_Free(shared.states);
        shared.states = NULL;
        Py_DECREF(path);
        return PyErr_Occurred() ? NULL : pycds_raise(PYCDS_ERROR_MEMORY, NULL);
    }
    shared.archive = archive;
    shared.path = path;
    shared.verbosity = verbose;
    shared.validation = validation;
    shared.unit_count = units;
    const cds_header *h = cds_archive_header(archive);
    return Py_BuildValue(
        "{sIsKsLsKsI}", "modules", count, "address",
        (unsigned long long)(uintptr_t)cds_archive_base(archive), "delta",
        (long long)cds_archive_delta(archive), "size",
        (unsigned long long)h->file_size, "units", units);
}

int pycds_share_verbosity(void)
{
    return shared.verbosity;
}

pycds_validation pycds_share_validation(void)
{
    return shared.validation;
}

static int check_shared(void)
{
    if (shared.archive)
        return 0;
    return pycds_fail(PYCDS_ERROR_RUNTIME, "no archive is shared");
}

PyObject *pycds_share_validation_name(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    if (check_shared() < 0)
        return NULL;
    switch (shared.validation) {
    case PYCDS_VALIDATE_HASH: return PyUnicode_FromString("hash");
    case PYCDS_VALIDATE_NONE: return PyUnicode_FromString("none");
    default: return PyUnicode_FromString("mtime");
    }
}

static pycds_record_kind record_kind(const cds_module_record *r)
{
    /* A record with more than one kind is made by no writer: the kind
     * that serves least wins. */
    return r->flags & PYCDS_MODULE_UNIT        ? PYCDS_RECORD_UNIT
           : r->flags & PYCDS_MODULE_EXTENSION ? PYCDS_RECORD_EXTENSION
           : r->flags & PYCDS_MODULE_ABSENT    ? PYCDS_RECORD_ABSENT
                                               : PYCDS_RECORD_CODE;
}

/* The record named by `size` bytes at `key`: 1 with *number and *record, 0
 * when there is none (or its module was refused earlier), -1 with an
 * exception when the archive is damaged. */
static int find_record(const char *key, size_t size, uint32_t *number,
                       const cds_module_record **record)
{
    cds_status status = cds_archive_find(shared.archive, key, size, number);
    if (status == CDS_E_NOT_FOUND ||
        (status == CDS_OK && shared.states[*number] == MODULE_FAILED))
        return 0;
    *record =
        status == CDS_OK ? cds_archive_module(shared.archive, *number) : NULL;
    if (!*record) {
        pycds_raise_archive(PyBytes_AS_STRING(shared.path), NULL,
                            status == CDS_OK ? CDS_E_CORRUPT : status);
        return -1;
    }
    return 1;
}

int pycds_share_find(PyObject *name, pycds_module_view *view)
{
    if (!shared.archive)
        return 0;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(name, &size);
    if (!utf8)
        return -1;
    uint32_t number;
    const cds_module_record *r;
    int found = find_record(utf8, (size_t)size, &number, &r);
    if (found <= 0)
        return found;
    view->kind = record_kind(r);
    /* importlib passes a name holding a NUL on to the finders: a unit's
     * name is still no module's. */
    if (view->kind == PYCDS_RECORD_UNIT)
        return 0;
    view->number = number;
    view->is_package = (r->flags & CDS_MODULE_PACKAGE) != 0;
    view->origin =
        cds_archive_string(shared.archive, r->origin, &view->origin_size);
    view->source_mtime_ns = r->source_mtime_ns;
    view->source_size = r->source_size;
    view->source_hash = r->source_hash;
    view->extra =
        cds_archive_string(shared.archive, r->extra, &view->extra_size);
    return 1;
}

/* Whether the file's contents hash to what the dump recorded. */
static int same_contents(const char *file, const pycds_module_view *view)
{
    uint64_t hash;
    return pycds_file_hash(file, &hash) && hash == view->source_hash;
}

const char *pycds_share_source_changed(const pycds_module_view *view)
{
    if (shared.validation == PYCDS_VALIDATE_NONE)
        return NULL;
    char file[PATH_MAX];
    if (view->origin_size >= sizeof file)
        return "source path too long";
    memcpy(file, view->origin, view->origin_size);
    file[view->origin_size] = '\0';
    struct stat st;
    if (stat(file, &st) != 0)
        return "source no longer readable";
    int64_t mtime_ns =
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime_ns != view->source_mtime_ns ||
        (uint64_t)st.st_size != view->source_size)
        return "source changed since the dump";
    if (shared.validation == PYCDS_VALIDATE_HASH && !same_contents(file, view))
        return "source contents changed since the dump";
    return NULL;
}

PyObject *pycds_share_lookup(PyObject *module, PyObject *name)
{
    (void)module;
    if (check_shared() < 0)
        return NULL;
    pycds_module_view view;
    int found = pycds_share_find(name, &view);
    if (found <= 0)
        return found < 0 ? NULL : Py_NewRef(Py_None);
    return Py_BuildValue("(INOLKK)", view.number,
                         PyUnicode_DecodeFSDefaultAndSize(
                             view.origin, (Py_ssize_t)view.origin_size),
                         view.is_package ? Py_True : Py_False,
                         (long long)view.source_mtime_ns,
                         (unsigned long long)view.source_size,
                         (unsigned long long)view.source_hash);
}

PyObject *pycds_share_code_as_dumped(PyObject *module, PyObject *name)
{
    (void)module;
    if (check_shared() < 0)
        return NULL;
    if (!PyUnicode_Check(name))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "share_code_as_dumped() needs a str");
    pycds_module_view view;
    int found = pycds_share_find(name, &view);
    if (found < 0)
        return NULL;
    if (!found || view.kind != PYCDS_RECORD_CODE)
        Py_RETURN_NONE;
    /* Served: the archive's code ran.  Imported from its file (before the
     * archive was mapped, at start-up, or as the finder's fallback): the
     * same code when the file passes the finder's own check now. */
    return PyBool_FromLong(shared.imported[view.number] ||
                           pycds_share_source_changed(&view) == NULL);
}

/* The unit record of module `name`: 1 and *record, 0 when there is none,
 * -1 with an exception. */
static int find_unit_record(PyObject *name, const cds_module_record **record)
{
    if (!shared.archive || shared.unit_count == 0)
        return 0;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(name, &size);
    if (!utf8)
        return -1;
    char stack[256];
    size_t key_size = (size_t)size + PYCDS_UNIT_SUFFIX_SIZE;
    char *key = key_size <= sizeof stack ? stack : PyMem_Malloc(key_size);
    if (!key) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(key, utf8, (size_t)size);
    memcpy(key + size, PYCDS_UNIT_SUFFIX, PYCDS_UNIT_SUFFIX_SIZE);
    uint32_t number;
    const cds_module_record *r;
    int found = find_record(key, key_size, &number, &r);
    if (key != stack)
        PyMem_Free(key);
    if (found <= 0)
        return found;
    if (record_kind(r) != PYCDS_RECORD_UNIT)
        return 0; /* "NAME\0unit" without the flag: not a unit */
    *record = r;
    return 1;
}

int pycds_share_unit_of(PyObject *name, PyObject **unit)
{
    const cds_module_record *r;
    int found = find_unit_record(name, &r);
    if (found <= 0)
        return found;
    /* In the read-only mapping of the file, which stays mapped for the
     * life of the process; cds_archive_module checked its bounds. */
    size_t blob_size;
    const char *blob = cds_archive_string(shared.archive, r->extra, &blob_size);
    *unit = PyMemoryView_FromMemory((char *)blob, (Py_ssize_t)blob_size,
                                    PyBUF_READ);
    return *unit ? 1 : -1;
}

int pycds_share_code_starts(uint32_t number)
{
    if (!shared.archive || shared.unit_count == 0)
        return 0;
    const cds_module_record *r = cds_archive_module(shared.archive, number);
    return r && record_kind(r) == PYCDS_RECORD_CODE &&
           (r->flags & PYCDS_MODULE_UNIT_STARTS) != 0;
}

PyObject *pycds_share_unit_starts(PyObject *module, PyObject *name)
{
    (void)module;
    if (!PyUnicode_Check(name))
        return pycds_raise(PYCDS_ERROR_TYPE, "unit_starts() needs a str");
    const cds_module_record *r;
    int found = find_unit_record(name, &r);
    if (found < 0)
        return NULL;
    return PyBool_FromLong(found && (r->flags & PYCDS_MODULE_UNIT_STARTS));
}

PyObject *pycds_share_unit(PyObject *module, PyObject *name)
{
    (void)module;
    if (!PyUnicode_Check(name))
        return pycds_raise(PYCDS_ERROR_TYPE, "share_unit() needs a str");
    PyObject *unit;
    int found = pycds_share_unit_of(name, &unit);
    if (found <= 0)
        return found < 0 ? NULL : Py_NewRef(Py_None);
    return unit;
}

/* The module's root, checked to lie inside its own objects. */
static pycds_root *module_root(const cds_module_record *r)
{
    pycds_root *root = cds_archive_at(shared.archive, r->root);
    uint64_t end = r->objects_end;
    if (!root || r->root < r->objects_begin ||
        r->root + sizeof(pycds_root) > end || root->magic != PYCDS_ROOT_MAGIC ||
        root->code_count == 0 ||
        (uint64_t)root->code_count + root->frozenset_count + root->once_count >
            (end - r->root - sizeof(pycds_root)) / sizeof(void *))
        return NULL;
    return root;
}

/* The per-module work after relocation. */
static int revive(pycds_root *root)
{
    void **slots = root->items + root->code_count;
    for (uint32_t i = 0; i < root->frozenset_count; i++) {
        PyObject **slot = slots[i];
        if (!PyTuple_CheckExact(*slot)) {
            return pycds_fail(PYCDS_ERROR_RUNTIME,
                              "frozenset slot holds no tuple");
        }
        PyObject *frozen = PyFrozenSet_New(*slot);
        if (!frozen)
            return -1;
        *slot = frozen; /* owned by the archived tuple from now on */
    }
    for (uint32_t i = 0; i < root->code_count; i++) {
        if (!PyCode_Check((PyObject *)root->items[i])) {
            return pycds_fail(PYCDS_ERROR_RUNTIME, "archived code is not code");
        }
        if (pycds_code_revive(root->items[i]) < 0)
            return -1;
    }
    return 0;
}

PyObject *pycds_share_code_of(uint32_t number)
{
    if (check_shared() < 0)
        return NULL;
    const cds_module_record *r = cds_archive_module(shared.archive, number);
    if (!r)
        return pycds_raise_archive(PyBytes_AS_STRING(shared.path), NULL,
                                   CDS_E_CORRUPT);
    if (r->flags & PYCDS_MODULE_KINDS)
        Py_RETURN_NONE; /* no code to serve */
    unsigned char *state = &shared.states[number];
    if (*state == MODULE_READY)
        return Py_NewRef((PyObject *)module_root(r)->items[0]);
    if (*state != MODULE_NEW || !pycds_in_main_interpreter()) {
        /* Failed before, or being revived by another thread right now (it
         * can let go of the GIL while building frozensets): import plainly. */
        Py_RETURN_NONE;
    }
    *state = MODULE_REVIVING;
    uint64_t start = os_now_ns();
    cds_status status = cds_archive_prepare_module(
        shared.archive, (uint32_t)number, &shared.symbols);
    uint64_t relocated = os_now_ns();
    if (status != CDS_OK) {
        *state = MODULE_FAILED;
        if (PyErr_Occurred())
            return NULL;
        return pycds_raise_archive(PyBytes_AS_STRING(shared.path), NULL,
                                   status);
    }
    pycds_root *root = module_root(r);
    if (!root) {
        *state = MODULE_FAILED;
        return pycds_raise_archive(PyBytes_AS_STRING(shared.path), NULL,
                                   CDS_E_CORRUPT);
    }
    if (revive(root) < 0) {
        *state = MODULE_FAILED;
        return NULL;
    }
    shared.stats.modules++;
    shared.stats.relocate_ns += relocated - start;
    shared.stats.revive_ns += os_now_ns() - relocated;
    *state = MODULE_READY;
    return Py_NewRef((PyObject *)root->items[0]);
}

PyObject *pycds_share_code_for_import(uint32_t number)
{
    if (shared.archive && number < cds_archive_module_count(shared.archive) &&
        shared.imported[number])
        Py_RETURN_NONE;
    PyObject *code = pycds_share_code_of(number);
    if (code && code != Py_None)
        shared.imported[number] = 1;
    return code;
}

PyObject *pycds_share_code(PyObject *module, PyObject *arg)
{
    (void)module;
    unsigned long number = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred())
        return NULL;
    if (number > UINT32_MAX)
        return pycds_raise_archive(NULL, NULL, CDS_E_NOT_FOUND);
    return pycds_share_code_of((uint32_t)number);
}

void pycds_share_body_ran(uint32_t number)
{
    if (shared.archive && number < cds_archive_module_count(shared.archive) &&
        shared.states[number] == MODULE_READY)
        os_array_append(&shared.ran, &number, 1); /* if not, kept: harmless */
}

/* The run-once objects root lists (layout.h). */
static void **once_items(pycds_root *root)
{
    return root->items + root->code_count + root->frozenset_count;
}

/* Whether every run-once object of root, in [begin, end), has the count
 * it was archived with, and no code object among them is attached to
 * anything but references and weak references. */
static int once_unreferenced(pycds_root *root, uintptr_t begin, uintptr_t end)
{
    void **once = once_items(root);
    for (uint32_t i = 0; i < root->once_count; i++) {
        PyObject *obj = once[i];
        if ((uintptr_t)obj < begin || (uintptr_t)obj >= end ||
            Py_REFCNT(obj) != PYCDS_ONCE_REFCNT)
            return 0;
        if (Py_IS_TYPE(obj, &PyCode_Type) &&
            !pycds_code_unattached((PyCodeObject *)obj))
            return 0;
    }
    return 1;
}

/*
 * The end of run-once code object `obj` (in [begin, end)) as code_dealloc
 * makes it: its count zero (a weak reference to it gives None from here),
 * then the run-once code among its constants ended, last first, as the
 * tuple that held them drops its items (a class body's), then its own weak
 * references cleared and their callbacks called; then its count is put
 * back.  Code a callback took a reference to (through another weak
 * reference) is left as it is: alive, its pages kept (give_back).
 */
static void end_code(PyObject *obj, uintptr_t begin, uintptr_t end, int depth)
{
    if (!Py_IS_TYPE(obj, &PyCode_Type) || (uintptr_t)obj < begin ||
        (uintptr_t)obj >= end || Py_REFCNT(obj) != PYCDS_ONCE_REFCNT)
        return;
    Py_SET_REFCNT(obj, 0);
    PyObject *consts = ((PyCodeObject *)obj)->co_consts;
    if (depth < 32 && PyTuple_Check(consts) && (uintptr_t)consts >= begin &&
        (uintptr_t)consts < end)
        for (Py_ssize_t i = PyTuple_GET_SIZE(consts); --i >= 0;)
            end_code(PyTuple_GET_ITEM(consts, i), begin, end, depth + 1);
    if (((PyCodeObject *)obj)->co_weakreflist != NULL)
        PyObject_ClearWeakRefs(obj);
    Py_SET_REFCNT(obj, Py_REFCNT(obj) + PYCDS_ONCE_REFCNT);
}

/*
 * Give module `number`'s run-once pages back when nothing refers to its
 * run-once objects: each has its archived count (a frame, traceback, code
 * object or tuple kept by anyone holds a reference), and no code object
 * among them is attached to anything else (pycds_code_unattached).  Any
 * doubt keeps them.  Only whole pages go: the first may hold the root.
 * Returns 1 when the module is to be looked at again by a later settle
 * (something still refers to its objects: a kept frame, or the import
 * memo or the running import of another thread), else 0.
 */
static int give_back(uint32_t number)
{
    const cds_module_record *r = cds_archive_module(shared.archive, number);
    pycds_root *root = r ? module_root(r) : NULL;
    if (shared.states[number] != MODULE_READY || !root || !root->once_count)
        return 0;
    uintptr_t begin = (uintptr_t)root->once_begin;
    uintptr_t module_end = (uintptr_t)root + (r->objects_end - r->root);
    uintptr_t end = begin + root->once_size;
    if (begin < (uintptr_t)(once_items(root) + root->once_count) ||
        end < begin || end > module_end)
        return 0; /* not as the copier lays them out */
    if (!once_unreferenced(root, begin, end))
        return 1;
    /* From here the module's code is never handed out again (imports and
     * reloads read its file), whatever the weak references' callbacks do. */
    shared.states[number] = MODULE_GIVEN_BACK;
    void **once = once_items(root);
    for (uint32_t i = 0; i < root->once_count; i++)
        end_code(once[i], begin, end, 0);
    /* A callback may have taken a reference after all: then the pages stay
     * (the code is no longer handed out, so nothing is looked at again), and
     * the code keeps what it has.  From here no Python code runs. */
    if (!once_unreferenced(root, begin, end))
        return 0;
    for (uint32_t i = 0; i < root->once_count; i++)
        if (Py_IS_TYPE(once[i], &PyCode_Type))
            pycds_code_forget((PyCodeObject *)once[i]);
    uint64_t given = 0;
    shared.stats.given_back_modules++;
    if (cds_archive_give_back(shared.archive, (const void *)begin, end - begin,
                              &given) == CDS_OK)
        shared.stats.given_back_bytes += given;
    return 0;
}

/* give_back each module of `*list`, taken whole (a weak reference's
 * callback may import, and settle the modules that import ran itself); those
 * still referred to are appended to shared.kept. */
static void settle_list(os_array *list)
{
    os_array taken = *list;
    *list = (os_array)OS_ARRAY_INIT(uint32_t);
    size_t kept = 0;
    for (size_t i = 0; i < taken.count; i++) {
        uint32_t number = OS_ARRAY_AT(&taken, uint32_t, i);
        if (give_back(number))
            OS_ARRAY_AT(&taken, uint32_t, kept++) = number;
    }
    if (kept)
        os_array_append(&shared.kept, taken.items, kept); /* if not: kept */
    os_array_free(&taken);
}

void pycds_share_settle(int outermost)
{
    /* Called at every archived import's return: most have nothing to do. */
    if (!shared.archive ||
        (!shared.ran.count && !(outermost && shared.kept.count)))
        return;
    pycds_saved_error saved = pycds_error_save();
    shared.ran_since += shared.ran.count;
    settle_list(&shared.ran);
    /* What was still referred to is looked at again when an outermost
     * import returns (the import memo is emptied then), once a quarter as
     * many modules ran since as are kept: a program that keeps thousands
     * of frames does not make each import look at them all. */
    if (outermost && shared.kept.count &&
        shared.ran_since * 4 >= shared.kept.count) {
        shared.ran_since = 0;
        settle_list(&shared.kept);
    }
    pycds_error_restore(saved);
}

PyObject *pycds_share_stats(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    return Py_BuildValue(
        "{sKsKsKsKsKsK}", "modules", (unsigned long long)shared.stats.modules,
        "relocate_ns", (unsigned long long)shared.stats.relocate_ns,
        "revive_ns", (unsigned long long)shared.stats.revive_ns, "by_value",
        (unsigned long long)shared.stats.by_value, "given_back_modules",
        (unsigned long long)shared.stats.given_back_modules, "given_back_bytes",
        (unsigned long long)shared.stats.given_back_bytes);
}
