/*
 * witness.c - paths and witnesses of what existed before a unit's body
 * (witness.h says what they are).  Each function does what a Python
 * version would, through the same attribute lookups, without a Python
 * frame per object: a restore resolves and compares thousands of them.
 */
#include "witness.h"

#include "error.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Attribute names, made (interned) once. */
enum name_index {
    N_MODULE,
    N_QUALNAME,
    N_SELF,
    N_NAME,
    N_PATTERN,
    N_FLAGS,
    N_GETATTRIBUTE,
    N_FUNC,
    N_ARGS,
    N_KEYWORDS,
    N_FGET,
    N_FSET,
    N_FDEL,
    N_WRAPPED_FUNC,
    N_FILE,
    /* not attribute names: the tags of forms that digests hold */
    N_STATE_TAG,
    N_CLASS_TAG,
    N_CELLS_TAG,
    N_TUPLE_TAG,
    N_MEMO_TAG,
    N_COUNT
};

static PyObject *name_of(enum name_index which)
{
    static const char *const TEXT[N_COUNT] = {"__module__",
                                              "__qualname__",
                                              "__self__",
                                              "__name__",
                                              "pattern",
                                              "flags",
                                              "__getattribute__",
                                              "func",
                                              "args",
                                              "keywords",
                                              "fget",
                                              "fset",
                                              "fdel",
                                              "__func__",
                                              "__file__",
                                              "=state",
                                              "=class",
                                              "=cells",
                                              "=tuple",
                                              "=memo"};
    static PyObject *made[N_COUNT];
    if (!made[which])
        made[which] = PyUnicode_InternFromString(TEXT[which]);
    return made[which];
}

static PyObject *get_attr(PyObject *obj, enum name_index which)
{
    PyObject *name = name_of(which);
    return name ? PyObject_GetAttr(obj, name) : NULL;
}

static int is(PyObject *text, const char *ascii)
{
    return PyUnicode_Check(text) &&
           PyUnicode_CompareWithASCIIString(text, ascii) == 0;
}

/* Whether a and b are the same text, both exactly str (no __eq__ of a
 * subclass runs: the callers hold borrowed references). */
static int same_text(PyObject *a, PyObject *b)
{
    return a && b && PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) &&
           PyUnicode_Compare(a, b) == 0;
}

/* getattr(obj, name, None): NULL with an exception only for errors other
 * than AttributeError; Py_None (new reference) when absent. */
static PyObject *optional_attr(PyObject *obj, enum name_index which)
{
    PyObject *value = get_attr(obj, which);
    if (!value && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        value = Py_NewRef(Py_None);
    }
    return value;
}

/* "MODULE.QUALNAME" of a type, as f"{t.__module__}.{t.__qualname__}".
 * A static type's is remembered: both come from its tp_name, which
 * never changes (a class's may be assigned). */
static PyObject *type_name(PyTypeObject *t)
{
    static PyObject *static_names; /* {static type: its name} */
    int fixed = !PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE);
    if (fixed) {
        if (!static_names && !(static_names = PyDict_New()))
            return NULL;
        PyObject *known = PyDict_GetItemWithError(static_names, (PyObject *)t);
        if (known || PyErr_Occurred())
            return Py_XNewRef(known);
    }
    PyObject *module = get_attr((PyObject *)t, N_MODULE);
    PyObject *qualname = module ? get_attr((PyObject *)t, N_QUALNAME) : NULL;
    PyObject *name = NULL;
    if (qualname && PyUnicode_CheckExact(module) &&
        PyUnicode_CheckExact(qualname)) {
        PyObject *dot = PyUnicode_FromOrdinal('.');
        PyObject *parts = dot ? PyTuple_Pack(2, module, qualname) : NULL;
        name = parts ? PyUnicode_Join(dot, parts) : NULL;
        Py_XDECREF(dot);
        Py_XDECREF(parts);
    } else if (qualname)
        name = PyUnicode_FromFormat("%S.%S", module, qualname);
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    if (name && fixed && PyDict_SetItem(static_names, (PyObject *)t, name) < 0)
        Py_CLEAR(name);
    return name;
}

/* Whether t's __name__ is one of the C callables a witness names (1), and
 * whether it is one of the builtin_* ones, bound to their __self__. */
static int c_callable_type(PyTypeObject *t, int *builtin)
{
    static const char *const NAMES[] = {"builtin_function_or_method",
                                        "builtin_method", "method_descriptor",
                                        "wrapper_descriptor"};
    PyObject *name = PyType_GetName(t);
    if (!name)
        return -1;
    int found = 0;
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES && !found; i++)
        if (is(name, NAMES[i])) {
            found = 1;
            *builtin = i < 2;
        }
    Py_DECREF(name);
    return found;
}

static PyObject *witness_of(PyObject *obj);

/* The witness of the object a C method is bound to. */
static PyObject *bound_witness(PyObject *owner)
{
    PyObject *name = type_name(Py_TYPE(owner));
    if (!name)
        return NULL;
    int pattern = is(name, "re.Pattern");
    Py_DECREF(name);
    if (!pattern)
        return witness_of(owner);
    PyObject *source = get_attr(owner, N_PATTERN);
    PyObject *flags = source ? get_attr(owner, N_FLAGS) : NULL;
    PyObject *out =
        flags ? Py_BuildValue("(sOO)", "re.Pattern", source, flags) : NULL;
    Py_XDECREF(source);
    Py_XDECREF(flags);
    return out;
}

/* A Python function's: its qualname, and where its code was written (the
 * fields its __qualname__ and __code__ read: the type is exactly
 * function's, whose attributes no class can override). */
static PyObject *function_witness(PyObject *function, PyObject *kind)
{
    PyFunctionObject *f = (PyFunctionObject *)function;
    PyCodeObject *code = (PyCodeObject *)f->func_code;
    PyObject *line = PyLong_FromLong(code->co_firstlineno);
    PyObject *out =
        line ? PyTuple_Pack(4, kind, f->func_qualname, code->co_filename, line)
             : NULL;
    Py_XDECREF(line);
    return out;
}

/* A class's layout as a witness holds it: the name of the C type its
 * instances are laid out as (the first static type along tp_base) and its
 * instance size.  Two classes of one name over other C bases (a `dict`
 * subclass replaced by a `list` one) differ here: a class made from an
 * image over the wrong one would have the other's layout. */
static PyObject *class_layout(PyTypeObject *t)
{
    PyTypeObject *solid = t;
    while (solid->tp_base && PyType_HasFeature(solid, Py_TPFLAGS_HEAPTYPE))
        solid = solid->tp_base;
    PyObject *root = type_name(solid);
    PyObject *out =
        root ? Py_BuildValue("(Onn)", root, t->tp_basicsize, t->tp_itemsize)
             : NULL;
    Py_XDECREF(root);
    return out;
}

static PyObject *witness_of(PyObject *obj)
{
    PyTypeObject *t = Py_TYPE(obj);
    PyObject *kind = type_name(t);
    if (!kind)
        return NULL;
    PyObject *name = NULL, *out = NULL;
    if (t == &PyFunction_Type) {
        out = function_witness(obj, kind);
        Py_DECREF(kind);
        return out;
    }
    int builtin = 0;
    int callable = PyType_Check(obj) ? 0 : c_callable_type(t, &builtin);
    if (callable < 0)
        goto done;
    if (PyType_Check(obj) || callable) {
        name = optional_attr(obj, N_QUALNAME);
        if (!name)
            goto done;
        PyObject *owner =
            builtin ? optional_attr(obj, N_SELF) : Py_NewRef(Py_None);
        if (!owner)
            goto done;
        if (owner != Py_None && !PyModule_CheckExact(owner) &&
            !PyType_Check(owner)) {
            PyObject *bound = bound_witness(owner);
            out = bound ? PyTuple_Pack(3, kind, name, bound) : NULL;
            Py_XDECREF(bound);
            Py_DECREF(owner);
            goto done;
        }
        Py_DECREF(owner);
        if (PyType_Check(obj)) {
            /* And a class's __name__, which a program may set apart from
             * its __qualname__ (a static type's cannot change). */
            PyTypeObject *type = (PyTypeObject *)obj;
            PyObject *layout = class_layout(type);
            PyObject *short_name = type->tp_flags & Py_TPFLAGS_HEAPTYPE
                                       ? ((PyHeapTypeObject *)type)->ht_name
                                       : Py_None;
            out =
                layout ? PyTuple_Pack(4, kind, name, layout, short_name) : NULL;
            Py_XDECREF(layout);
            goto done;
        }
    } else if (PyModule_CheckExact(obj)) {
        name = get_attr(obj, N_NAME);
        if (!name)
            goto done;
    }
    out = PyTuple_Pack(2, kind, name ? name : Py_None);
done:
    Py_DECREF(kind);
    Py_XDECREF(name);
    return out;
}

PyObject *pycds_witness(PyObject *module, PyObject *obj)
{
    (void)module;
    return witness_of(obj);
}

/* ------------------------------------------------------------- paths */

/* sys.modules (borrowed), looked up once per call of the functions
 * below: a program may have replaced it. */
static PyObject *sys_modules(void)
{
    PyObject *modules = PySys_GetObject("modules");
    if (!modules)
        pycds_raise(PYCDS_ERROR_RUNTIME, "no sys.modules");
    return modules;
}

/* One step from obj (NULL before the first); new reference. */
static PyObject *follow(PyObject *obj, PyObject *kind, PyObject *arg,
                        PyObject *step, PyObject *modules)
{
    if (is(kind, "module"))
        return PyObject_GetItem(modules, arg);
    if (obj && ((is(kind, "attr") && !is(arg, "__dict__")) ||
                (is(kind, "item") && PyModule_CheckExact(obj)))) {
        /* A module's or class's own namespace: no descriptor runs. */
        if (PyModule_CheckExact(obj))
            return PyObject_GetItem(PyModule_GetDict(obj), arg);
        if (PyType_Check(obj)) {
            PyObject *ns = pycds_type_namespace((PyTypeObject *)obj);
            if (!ns)
                return PyErr_Occurred()
                           ? NULL
                           : pycds_raise(PYCDS_ERROR_TYPE, "a class without a "
                                                           "namespace");
            PyObject *found = PyObject_GetItem(ns, arg);
            Py_DECREF(ns);
            return found;
        }
    }
    if (obj && (is(kind, "item") || is(kind, "index")) &&
        (PyDict_CheckExact(obj) || PyList_CheckExact(obj) ||
         PyTuple_CheckExact(obj)))
        return PyObject_GetItem(obj, arg);
    return PyObject_CallFunctionObjArgs(step, obj ? obj : Py_None, kind, arg,
                                        NULL);
}

static PyObject *resolve(PyObject *path, PyObject *step, PyObject *modules)
{
    if (!PyTuple_Check(path) || PyTuple_GET_SIZE(path) == 0)
        return pycds_raise(PYCDS_ERROR_TYPE, "a path is a tuple of steps");
    PyObject *obj = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(path); i++) {
        PyObject *pair = PyTuple_GET_ITEM(path, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_XDECREF(obj);
            return pycds_raise(PYCDS_ERROR_TYPE, "a step is (kind, argument)");
        }
        PyObject *next = follow(obj, PyTuple_GET_ITEM(pair, 0),
                                PyTuple_GET_ITEM(pair, 1), step, modules);
        Py_XDECREF(obj);
        if (!next)
            return NULL;
        obj = next;
    }
    return obj;
}

PyObject *pycds_resolve(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyCallable_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE, "resolve(path, step)");
    PyObject *modules = sys_modules();
    return modules ? resolve(args[0], args[1], modules) : NULL;
}

/* Whether the exception raised on a path means it leads nowhere. */
static int path_gone(void)
{
    return PyErr_ExceptionMatches(PyExc_KeyError) ||
           PyErr_ExceptionMatches(PyExc_IndexError) ||
           PyErr_ExceptionMatches(PyExc_AttributeError) ||
           PyErr_ExceptionMatches(PyExc_TypeError);
}

/* ------------------------------------------------- memo by identity
 *
 * What a restore's checks learnt of an object (its witness, the hash of
 * its digest, a class's namespace hash, a container's digest), kept for
 * as long as `checked` keeps it (the import memo: until the outermost
 * import returns).  The entries live in a table keyed by the object's
 * address, in a capsule that `checked` holds: a Python dict keyed by
 * int(id) tuples cost a thousand instructions a lookup, in the thousands
 * of lookups of an import.  Each entry holds its object, so no address is
 * reused while it is there. */

enum memo_kind {
    MEMO_WITNESS,   /* value: the object's witness; number: witness_stamp() */
    MEMO_HASH,      /* number: the hash of its read digest */
    MEMO_NAMESPACE, /* value: namespace_hash(); number: the class's stamp */
    MEMO_DIGEST,    /* value: its digest; number: its stamp */
    MEMO_CODE,      /* value: code_hash() of a code object (which
                     * cannot change) */
    MEMO_TYPE_WITNESS, /* value: the witness of any object of this type,
                        * or None where each object has its own; number:
                        * the type's witness_stamp() */
    MEMO_READING,      /* value: reading_of() the object (below) */
    MEMO_SHALLOW       /* as MEMO_NAMESPACE, of a class another holds
                        * (feed_held_class) */
};

struct memo_entry {
    PyObject *obj; /* NULL: a free slot */
    PyObject *value;
    uint64_t number;
    uint64_t epoch; /* the table's when put */
    int kind;
};

/* A class's namespace hash and a container's or instance's digest hold
 * state that their stamps do not cover (a method's code and defaults, a
 * property's functions), and so does the witness of a type's instances
 * (the type's names, on 3.13): such an entry holds only in the epoch it
 * was put in (memo_epoch). */
#define MEMO_BY_EPOCH(kind)                                                    \
    ((kind) == MEMO_NAMESPACE || (kind) == MEMO_DIGEST ||                      \
     (kind) == MEMO_TYPE_WITNESS || (kind) == MEMO_SHALLOW)

struct memo_table {
    struct memo_entry *slots;
    size_t mask; /* slots - 1, a power of two less one */
    size_t used;
    uint64_t epoch; /* moved by readings that changed (memo_after_code) */
};

/* Changes to the code or defaults of functions whose state the checks
 * hashed (feed_function_state marks them, by address, in a bitmap that a
 * table's end clears: a function made since that shares a mark counts
 * too, which costs a hash and is safe), counted by a function watcher
 * where there is one (compat.h).  Fresh functions get defaults after
 * they are made (namedtuple's __new__): unmarked, those cost nothing.
 * Keyword-defaults dicts hashed are watched too (watch_defaults). */
#define MARK_BITS 65536
static unsigned char function_marks[MARK_BITS / 8];
static uint64_t function_changes;
/* Containers hashed by their items that no stamp covers (among a
 * function's defaults, keyword defaults or attributes; in a tuple a class
 * holds): a change to those items tells no watcher, so what holds them
 * is not remembered (memo_since_now, memo_put_since). */
static uint64_t unwatched_containers;
static size_t live_tables;        /* the marks are cleared when none is left */
static int function_watcher = -1; /* -2: none could be had */
#if PYCDS_FUNCTION_STAMPS
static int kwdefaults_watcher = -1; /* (a dict watcher: watch_defaults) */
#endif

static size_t function_mark(PyObject *function)
{
    return ((uintptr_t)function >> 4) & (MARK_BITS - 1);
}

static void mark_function(PyObject *function)
{
    size_t bit = function_mark(function);
    function_marks[bit / 8] |= (unsigned char)(1u << (bit % 8));
}

#if PYCDS_FUNCTION_STAMPS
static int count_function_change(PyFunction_WatchEvent event,
                                 PyFunctionObject *function,
                                 PyObject *new_value)
{
    (void)new_value;
    size_t bit = function_mark((PyObject *)function);
    if (event != PyFunction_EVENT_CREATE && event != PyFunction_EVENT_DESTROY &&
        function_marks[bit / 8] & (1u << (bit % 8)))
        function_changes++;
    return 0;
}
#endif

/* No table is left: no mark is needed, and no watcher, which every
 * function made or freed would call until the next restore's checks. */
static void end_function_watch(void)
{
    memset(function_marks, 0, sizeof function_marks);
#if PYCDS_FUNCTION_STAMPS
    /* (a table may end while an exception is on its way) */
    PyObject *pending = PyErr_GetRaisedException();
    if (function_watcher >= 0 && PyFunction_ClearWatcher(function_watcher) < 0)
        PyErr_Clear();
    if (kwdefaults_watcher >= 0 && PyDict_ClearWatcher(kwdefaults_watcher) < 0)
        PyErr_Clear();
    PyErr_SetRaisedException(pending);
    kwdefaults_watcher = -1;
#endif
    function_watcher = -1;
}

/* The epoch now: it moves with every change to a marked function's code
 * or defaults where a watcher counts them (3.12+), and with every reading
 * found changed (note_reading, memo_after_code: where code other than the
 * restore's may have run).  0: none to be had (every watcher taken),
 * nothing of such a kind holds. */
static uint64_t memo_epoch(const struct memo_table *table)
{
#if PYCDS_FUNCTION_STAMPS
    if (function_watcher == -1 &&
        (function_watcher = PyFunction_AddWatcher(count_function_change)) < 0) {
        PyErr_Clear();
        function_watcher = -2;
    }
    if (function_watcher < 0)
        return 0;
#endif
    return 1 + table->epoch + function_changes;
}

/* The table last found, and the dict it was found in (held): the next
 * lookup in the same dict skips the dict.  The table's end clears it. */
static struct memo_table *memo_current;
static PyObject *memo_owner;

static void memo_table_free(PyObject *capsule)
{
    struct memo_table *table = PyCapsule_GetPointer(capsule, "pycds.memo");
    if (!table)
        return;
    if (table == memo_current)
        memo_current = NULL;
    for (size_t i = 0; i <= table->mask; i++) {
        Py_XDECREF(table->slots[i].obj);
        Py_XDECREF(table->slots[i].value);
    }
    PyMem_Free(table->slots);
    PyMem_Free(table);
    if (--live_tables == 0)
        end_function_watch();
}

static PyObject *memo_tag(void)
{
    return name_of(N_MEMO_TAG);
}

/* The table `checked` holds (made when `create`), NULL when none (an
 * exception set if that failed). */
static struct memo_table *memo_table(PyObject *checked, int create)
{
    if (checked == memo_owner && memo_current)
        return memo_current;
    PyObject *capsule = PyDict_GetItemWithError(checked, memo_tag());
    if (capsule) {
        if (!PyCapsule_IsValid(capsule, "pycds.memo")) {
            pycds_raise(PYCDS_ERROR_TYPE, "the import memo holds no table");
            return NULL;
        }
        memo_current = PyCapsule_GetPointer(capsule, "pycds.memo");
        Py_XSETREF(memo_owner, Py_NewRef(checked));
        return memo_current;
    }
    if (!create || PyErr_Occurred())
        return NULL;
    struct memo_table *table = PyMem_Calloc(1, sizeof *table);
    struct memo_entry *slots = table ? PyMem_Calloc(256, sizeof *slots) : NULL;
    if (!slots) {
        PyMem_Free(table);
        PyErr_NoMemory();
        return NULL;
    }
    table->slots = slots;
    table->mask = 255;
    capsule = PyCapsule_New(table, "pycds.memo", memo_table_free);
    if (!capsule) {
        PyMem_Free(slots);
        PyMem_Free(table);
        return NULL;
    }
    live_tables++;
    int failed = PyDict_SetItem(checked, memo_tag(), capsule) < 0;
    Py_DECREF(capsule); /* held by `checked`, or freed with the table */
    if (failed)
        return NULL;
    memo_current = table;
    Py_XSETREF(memo_owner, Py_NewRef(checked));
    return table;
}

static size_t memo_slot(const struct memo_table *table, int kind, PyObject *obj)
{
    uint64_t h = ((uint64_t)(uintptr_t)obj >> 4) * UINT64_C(0x9E3779B97F4A7C15);
    size_t i = (size_t)(h >> 32 ^ (uint64_t)kind) & table->mask;
    while (table->slots[i].obj &&
           (table->slots[i].obj != obj || table->slots[i].kind != kind))
        i = (i + 1) & table->mask;
    return i;
}

/* What `checked` remembers of obj as `kind`: 1 with *value (a new
 * reference; None where the entry holds none) and *number, 0 when
 * nothing, -1 with an exception. */
static int memo_get(PyObject *checked, int kind, PyObject *obj,
                    PyObject **value, uint64_t *number)
{
    struct memo_table *table = memo_table(checked, 0);
    if (!table)
        return PyErr_Occurred() ? -1 : 0;
    const struct memo_entry *entry = &table->slots[memo_slot(table, kind, obj)];
    if (!entry->obj)
        return 0;
    if (MEMO_BY_EPOCH(kind)) {
        uint64_t now = memo_epoch(table);
        if (!now || entry->epoch != now)
            return 0;
    }
    *value = Py_NewRef(entry->value ? entry->value : Py_None);
    *number = entry->number;
    return 1;
}

static int memo_grow(struct memo_table *table)
{
    size_t count = (table->mask + 1) * 2;
    struct memo_entry *old = table->slots,
                      *slots = PyMem_Calloc(count, sizeof *slots);
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    size_t old_mask = table->mask;
    table->slots = slots;
    table->mask = count - 1;
    for (size_t i = 0; i <= old_mask; i++)
        if (old[i].obj)
            table->slots[memo_slot(table, old[i].kind, old[i].obj)] = old[i];
    PyMem_Free(old);
    return 0;
}

/* obj as `kind` into `checked`: value (may be NULL) and number, replacing
 * what was there: 0, or -1 with an exception. */
static int memo_put(PyObject *checked, int kind, PyObject *obj, PyObject *value,
                    uint64_t number)
{
    struct memo_table *table = memo_table(checked, 1);
    if (!table)
        return -1;
    if (2 * (table->used + 1) > table->mask + 1 && memo_grow(table) < 0)
        return -1;
    struct memo_entry *entry = &table->slots[memo_slot(table, kind, obj)];
    PyObject *old_obj = entry->obj, *old_value = entry->value;
    if (!old_obj)
        table->used++;
    entry->obj = Py_NewRef(obj);
    entry->value = Py_XNewRef(value);
    entry->number = number;
    entry->epoch = MEMO_BY_EPOCH(kind) ? memo_epoch(table) : 0;
    entry->kind = kind;
    /* Released last: their end may run Python code that uses the table. */
    Py_XDECREF(old_obj);
    Py_XDECREF(old_value);
    return 0;
}

/* What an entry of a kind MEMO_BY_EPOCH is put under: the epoch before
 * its value was made (a witness may run Python code that changes a
 * function hashed already), and whether that made anything unwatched. */
struct memo_since {
    uint64_t epoch;
    uint64_t unwatched;
};

/* 0, or -1 with an exception. */
static int memo_since_now(PyObject *checked, struct memo_since *since)
{
    struct memo_table *table = memo_table(checked, 1);
    if (!table)
        return -1;
    since->epoch = memo_epoch(table);
    since->unwatched = unwatched_containers;
    return 0;
}

/* memo_put() of a value made since `since`, unless what it holds may have
 * changed unseen meanwhile or may change unseen later: then nothing is
 * remembered (0); -1 with an exception. */
static int memo_put_since(PyObject *checked, int kind, PyObject *obj,
                          PyObject *value, uint64_t number,
                          const struct memo_since *since)
{
    struct memo_table *table = memo_table(checked, 1);
    if (!table)
        return -1;
    if (!since->epoch || memo_epoch(table) != since->epoch ||
        unwatched_containers != since->unwatched)
        return 0;
    return memo_put(checked, kind, obj, value, number);
}

/* ------------------------------------------------------- readings
 *
 * What the checks read of a function, a heap class, a cell or an instance
 * that no stamp renews, kept as it was (MEMO_READING): a function's parts
 * (its __name__, __doc__, __module__, annotations and attributes, which no
 * watcher tells of; its code and defaults, which 3.11 has no watcher
 * for), a class's names (3.13 renews no version tag for them), what a
 * method's cell holds, an instance's class and attributes (a settings
 * object a class holds).
 * The parts are held, so no address is reused, and a dict by a copy.
 * Where code other than the checks' may have run between two restores
 * (the restore says so: memo_after_code), every reading is compared with
 * its object, and any difference moves the epoch: what was remembered
 * under the old one is hashed again. */

static PyObject *own_attrs(PyObject *obj);

/* A part as a reading keeps it: none or an empty dict as None (a
 * function's __dict__ or __annotations__, made empty when first read), a
 * dict by a copy, anything else itself.  A new reference. */
static PyObject *part_reading(PyObject *part)
{
    if (!part || (PyDict_Check(part) && PyDict_GET_SIZE(part) == 0))
        Py_RETURN_NONE;
    return PyDict_Check(part) ? PyDict_Copy(part) : Py_NewRef(part);
}

/* Whether `part` is still what part_reading() kept in `read`: the same
 * object, or a dict of the same keys and values, in the same order
 * (identity only: no Python code runs). */
static int part_holds(PyObject *part, PyObject *read)
{
    if (!part || (PyDict_Check(part) && PyDict_GET_SIZE(part) == 0))
        return read == Py_None;
    if (!PyDict_Check(part))
        return part == read;
    Py_ssize_t at_part = 0, at_read = 0;
    PyObject *key, *value, *read_key, *read_value;
    if (PyTuple_CheckExact(read)) {
        /* Annotations read since as a dict: made of the same pairs the
         * tuple held, in order (what the program sees is unchanged). */
        if (PyTuple_GET_SIZE(read) != 2 * PyDict_GET_SIZE(part))
            return 0;
        while (PyDict_Next(part, &at_part, &key, &value)) {
            if (key != PyTuple_GET_ITEM(read, at_read) ||
                value != PyTuple_GET_ITEM(read, at_read + 1))
                return 0;
            at_read += 2;
        }
        return 1;
    }
    if (!PyDict_Check(read) || PyDict_GET_SIZE(read) != PyDict_GET_SIZE(part))
        return 0;
    while (PyDict_Next(part, &at_part, &key, &value))
        if (!PyDict_Next(read, &at_read, &read_key, &read_value) ||
            key != read_key || value != read_value)
            return 0;
    return 1;
}

#define READ_PARTS 10

/* The parts of `obj` a reading keeps (borrowed; NULL for none), and how
 * many: 10 of a function, 2 of a heap class, 2 of an instance (its class
 * and its attributes, `attrs`: own_attrs(), a new reference the caller
 * releases); 0 for anything else.  (A cell's: cell_reading().) */
static int read_parts(PyObject *obj, PyObject *parts[READ_PARTS],
                      PyObject **attrs)
{
    *attrs = NULL;
    if (Py_TYPE(obj) == &PyFunction_Type) {
        PyFunctionObject *f = (PyFunctionObject *)obj;
        PyObject *all[READ_PARTS] = {
            f->func_code,       f->func_defaults,
            f->func_kwdefaults, f->func_name,
            f->func_qualname,   f->func_doc,
            f->func_module,     f->func_annotations,
            f->func_dict,       pycds_function_type_params(f)};
        memcpy(parts, all, sizeof all);
        return READ_PARTS;
    }
    if (PyType_Check(obj)) {
        if (!(((PyTypeObject *)obj)->tp_flags & Py_TPFLAGS_HEAPTYPE))
            return 0;
        parts[0] = ((PyHeapTypeObject *)obj)->ht_name;
        parts[1] = ((PyHeapTypeObject *)obj)->ht_qualname;
        return 2;
    }
    if (!(*attrs = own_attrs(obj)))
        return -1;
    parts[0] = (PyObject *)Py_TYPE(obj);
    parts[1] = PyDict_Check(*attrs) ? *attrs : NULL;
    return 2;
}

/* A cell's reading: () empty, else (what it holds, that object's class),
 * compared by identity (an empty cell, None and {} are three readings;
 * an instance given another class is another). */
static PyObject *cell_reading(PyObject *cell)
{
    PyObject *inside = PyCell_GET(cell);
    return inside ? PyTuple_Pack(2, inside, (PyObject *)Py_TYPE(inside))
                  : PyTuple_New(0);
}

/* A tuple of obj's parts as part_reading() keeps them. */
static PyObject *reading_of(PyObject *obj)
{
    if (PyCell_Check(obj))
        return cell_reading(obj);
    PyObject *parts[READ_PARTS], *attrs;
    int count = read_parts(obj, parts, &attrs);
    /* Held while copied: an allocation may collect, and a finalizer may
     * replace a part (a function's __dict__), freeing it. */
    for (int i = 0; i < count; i++)
        Py_XINCREF(parts[i]);
    PyObject *out = count < 0 ? NULL : PyTuple_New(count);
    for (int i = 0; out && i < count; i++) {
        PyObject *part = part_reading(parts[i]);
        if (!part)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i, part);
    }
    for (int i = 0; i < count; i++)
        Py_XDECREF(parts[i]);
    Py_XDECREF(attrs);
    return out;
}

/* Whether obj is still as `read` (reading_of()) says: 1, 0, or -1. */
static int reading_holds(PyObject *obj, PyObject *read)
{
    if (PyCell_Check(obj)) {
        PyObject *inside = PyCell_GET(obj);
        if (!PyTuple_Check(read) || PyTuple_GET_SIZE(read) != (inside ? 2 : 0))
            return 0;
        return !inside ||
               (PyTuple_GET_ITEM(read, 0) == inside &&
                PyTuple_GET_ITEM(read, 1) == (PyObject *)Py_TYPE(inside));
    }
    PyObject *parts[READ_PARTS], *attrs;
    int count = read_parts(obj, parts, &attrs);
    if (count < 0)
        return -1;
    int holds = PyTuple_Check(read) && PyTuple_GET_SIZE(read) == count;
    for (int i = 0; holds && i < count; i++)
        holds = part_holds(parts[i], PyTuple_GET_ITEM(read, i));
    Py_XDECREF(attrs);
    return holds;
}

/* obj's reading noted in `checked` (nothing without one): a reading
 * noted before that no longer holds moves the epoch first (code changed
 * obj since, and what was remembered may hold the old parts).  0, or -1
 * with an exception. */
static int note_reading(PyObject *checked, PyObject *obj)
{
    /* (a static type: nothing a program can change) */
    if (!checked || (PyType_Check(obj) &&
                     !(((PyTypeObject *)obj)->tp_flags & Py_TPFLAGS_HEAPTYPE)))
        return 0;
    PyObject *was = NULL;
    uint64_t number = 0;
    int found = memo_get(checked, MEMO_READING, obj, &was, &number);
    int holds = found > 0 ? reading_holds(obj, was) : 0;
    Py_XDECREF(was);
    if (found < 0 || holds != 0)
        return found < 0 || holds < 0 ? -1 : 0;
    struct memo_table *table = found ? memo_table(checked, 0) : NULL;
    if (table)
        table->epoch++;
    PyObject *now = reading_of(obj);
    int failed = !now || memo_put(checked, MEMO_READING, obj, now, 0) < 0;
    Py_XDECREF(now);
    return failed ? -1 : 0;
}

/* How deep the forms of what closures hold go: a closure held as a value
 * (depth 0) by its cells, a closure in one of those (a decorator's
 * wrapper around a factory's function) by its own cells, then witnesses.
 * note_cells() notes the cells of the same closures. */
#define CLOSURE_DEPTH 2

/* The readings of a closure's cells (what closure_forms() wrote of them
 * no stamp covers), and of the cells of closures in them, as deep as
 * closure_forms() goes from `depth` (1 for the closure held): 0, or -1
 * with an exception. */
static int note_cells(PyObject *checked, PyObject *function, int depth)
{
    PyObject *closure = ((PyFunctionObject *)function)->func_closure;
    if (!checked || !closure || !PyTuple_Check(closure))
        return 0;
    Py_INCREF(closure);
    int failed = 0;
    for (Py_ssize_t i = 0; !failed && i < PyTuple_GET_SIZE(closure); i++) {
        PyObject *cell = PyTuple_GET_ITEM(closure, i);
        if (!PyCell_Check(cell))
            continue;
        failed = note_reading(checked, cell) < 0;
        PyObject *inside = failed ? NULL : Py_XNewRef(PyCell_GET(cell));
        if (inside && Py_TYPE(inside) == &PyFunction_Type &&
            depth < CLOSURE_DEPTH)
            failed = note_cells(checked, inside, depth + 1) < 0;
        Py_XDECREF(inside);
    }
    Py_DECREF(closure);
    return failed ? -1 : 0;
}

PyObject *pycds_memo_after_code(PyObject *module, PyObject *checked)
{
    (void)module;
    if (!PyDict_Check(checked))
        return pycds_raise(PYCDS_ERROR_TYPE, "memo_after_code(checked: dict)");
    struct memo_table *table = memo_table(checked, 0);
    if (!table)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_False);
    /* The table held for the walk (its capsule), and each entry's object
     * and reading while they are compared: an allocation may collect, and
     * a finalizer may use the table (a restore's checks), growing it or
     * replacing the entry.  By index, walked again from the start when the
     * table grew meanwhile. */
    PyObject *capsule =
        Py_XNewRef(PyDict_GetItemWithError(checked, memo_tag()));
    if (!capsule)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_False);
    int changed = 0, failed = 0;
    for (size_t i = 0; !failed && i <= table->mask; i++) {
        struct memo_entry *entry = &table->slots[i];
        if (!entry->obj || entry->kind != MEMO_READING)
            continue;
        const struct memo_entry *slots = table->slots;
        PyObject *obj = Py_NewRef(entry->obj), *read = Py_NewRef(entry->value);
        int holds = reading_holds(obj, read);
        PyObject *now = holds == 0 ? reading_of(obj) : NULL;
        failed = holds < 0 || (holds == 0 && !now) ||
                 (now && memo_put(checked, MEMO_READING, obj, now, 0) < 0);
        changed = changed || holds == 0;
        Py_DECREF(obj);
        Py_DECREF(read);
        Py_XDECREF(now);
        if (table->slots != slots)
            i = (size_t)-1;
    }
    /* (moved on a failure too: readings taken anew hold for the changed
     * objects, and what was remembered of them must not) */
    if (changed)
        table->epoch++;
    Py_DECREF(capsule);
    if (failed)
        return NULL;
    return Py_NewRef(changed ? Py_True : Py_False);
}

/* What a remembered witness of obj is good for: a class's version tag,
 * which setting its __name__ or __qualname__ renews (0: none to be had, so
 * the witness is not remembered); 1 for anything else. */
static uint64_t witness_stamp(PyObject *obj)
{
    return PyType_Check(obj) ? pycds_type_stamp((PyTypeObject *)obj) : 1;
}

/* Whether a function's remembered witness (kind, qualname, file, line) is
 * still what witness_of() would say: a program may have given it another
 * __qualname__ or __code__ since (the witness holds no stamp). */
static int function_witness_holds(PyObject *function, PyObject *seen)
{
    PyFunctionObject *f = (PyFunctionObject *)function;
    PyCodeObject *code = (PyCodeObject *)f->func_code;
    if (!PyTuple_Check(seen) || PyTuple_GET_SIZE(seen) != 4 ||
        !PyLong_Check(PyTuple_GET_ITEM(seen, 3)))
        return 0;
    long line = PyLong_AsLong(PyTuple_GET_ITEM(seen, 3));
    if (line == -1 && PyErr_Occurred())
        return -1;
    return line == code->co_firstlineno &&
           same_text(PyTuple_GET_ITEM(seen, 1), f->func_qualname) &&
           same_text(PyTuple_GET_ITEM(seen, 2), code->co_filename);
}

/* Whether a heap class's remembered witness (kind, qualname, layout,
 * name) still names it: 3.13 renews no version tag when __name__ or
 * __qualname__ is set (data descriptors of type). */
static int class_witness_holds(PyTypeObject *type, PyObject *seen)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 1;
    PyHeapTypeObject *heap = (PyHeapTypeObject *)type;
    if (!PyTuple_Check(seen) || PyTuple_GET_SIZE(seen) != 4)
        return 0;
    return same_text(PyTuple_GET_ITEM(seen, 3), heap->ht_name) &&
           same_text(PyTuple_GET_ITEM(seen, 1), heap->ht_qualname);
}

/* The witness `checked` remembers for obj (a new reference), NULL when
 * none or no longer good (an exception set if looking failed). */
static PyObject *known_witness(PyObject *checked, PyObject *obj)
{
    PyObject *value = NULL;
    uint64_t stamp = 0;
    if (memo_get(checked, MEMO_WITNESS, obj, &value, &stamp) <= 0)
        return NULL;
    int holds =
        Py_TYPE(obj) == &PyFunction_Type ? function_witness_holds(obj, value)
        : stamp != witness_stamp(obj)    ? 0
        : PyType_Check(obj) ? class_witness_holds((PyTypeObject *)obj, value)
                            : 1;
    if (holds != 1)
        Py_CLEAR(value);
    return value;
}

/* Remembers `seen` as obj's witness in `checked`, with its stamp (none
 * for a class without a version tag): 0, or -1 with an exception. */
static int remember_witness(PyObject *checked, PyObject *obj, PyObject *seen)
{
    uint64_t stamp = witness_stamp(obj);
    return stamp ? memo_put(checked, MEMO_WITNESS, obj, seen, stamp) : 0;
}

/* The witness of a function, class or module, remembered in `checked`
 * by the object as matches() remembers it, for as long as it holds
 * (known_witness). */
static PyObject *remembered_witness(PyObject *value, PyObject *checked)
{
    PyObject *out = known_witness(checked, value);
    if (!out && !PyErr_Occurred() && (out = witness_of(value)) &&
        remember_witness(checked, value, out) < 0)
        Py_CLEAR(out);
    return out;
}

/* witness(obj) == seen, remembered in `checked` (1, 0, or -1). */
static int matches(PyObject *obj, PyObject *seen, PyObject *checked)
{
    /* A str named by where it lives (another module's sentinel): its
     * witness is its value, ("=", text), since a program that rebound
     * that attribute first left another string there. */
    if (PyTuple_Check(seen) && PyTuple_GET_SIZE(seen) == 2 &&
        is(PyTuple_GET_ITEM(seen, 0), "=")) {
        PyObject *text = PyTuple_GET_ITEM(seen, 1);
        if (!PyUnicode_CheckExact(obj) || !PyUnicode_Check(text))
            return 0;
        return PyUnicode_Compare(obj, text) == 0 ? 1
               : PyErr_Occurred()                ? -1
                                                 : 0;
    }
    PyObject *known = known_witness(checked, obj);
    int equal = -1;
    if (known) {
        equal = PyObject_RichCompareBool(known, seen, Py_EQ);
        Py_DECREF(known);
        if (equal != 0)
            return equal;
    } else if (PyErr_Occurred())
        return -1;
    PyObject *now = witness_of(obj);
    equal = now ? PyObject_RichCompareBool(now, seen, Py_EQ) : -1;
    Py_XDECREF(now);
    if (equal == 1 && remember_witness(checked, obj, seen) < 0)
        equal = -1;
    return equal;
}

PyObject *pycds_matches_witness(PyObject *module, PyObject *const *args,
                                Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyDict_Check(args[2]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "matches_witness(obj, witness, checked)");
    int equal = matches(args[0], args[1], args[2]);
    return equal < 0 ? NULL : PyBool_FromLong(equal);
}

PyObject *pycds_resolve_externals(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyCallable_Check(args[3]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "resolve_externals(entries, memo, checked, step)");
    PyObject *entries = args[0], *memo = args[1], *checked = args[2];
    PyObject *modules = sys_modules();
    if (!modules)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2)
            return pycds_raise(PYCDS_ERROR_TYPE,
                               "an external is (path, witness)");
        PyObject *obj = resolve(PyTuple_GET_ITEM(entry, 0), args[3], modules);
        if (!obj) {
            if (!path_gone())
                return NULL;
            PyErr_Clear();
            return Py_BuildValue("(nO)", i, Py_False);
        }
        int equal = matches(obj, PyTuple_GET_ITEM(entry, 1), checked);
        int failed = equal < 0 || (equal && PyList_Append(memo, obj) < 0);
        Py_DECREF(obj);
        if (failed)
            return NULL;
        if (!equal)
            return Py_BuildValue("(nO)", i, Py_True);
    }
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------- digests */

/* The items one digest looks at, at most, counted over the containers
 * inside it too.  Tables of hundreds of entries (status codes, a
 * registry, an alias map) are hashed whole, for microseconds at restore:
 * a program that changed one entry and kept the length is seen.  (At 64
 * per container, before session 24, such a change was not.)  A container
 * whose items would pass what is left is compared by its length (README
 * says so); the bound over all levels keeps the worst read (a table of
 * tables) to a few milliseconds. */
#define DIGEST_ITEMS 4096

/* What is left of DIGEST_ITEMS for the digest being made.  A top-level
 * container_digest() sets it and puts the outer one's back after: a
 * witness may run Python code that digests something else meanwhile. */
static Py_ssize_t items_left = DIGEST_ITEMS;

/* An instance's attributes a digest holds, at most: they are kept as
 * (name, form) pairs in a unit's header, not hashed.  Past it, the
 * instance by its witness. */
#define DIGEST_ATTRIBUTES 64

static int atom(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    return value == Py_None || t == &PyBool_Type || t == &PyLong_Type ||
           t == &PyFloat_Type || t == &PyComplex_Type || t == &PyUnicode_Type ||
           t == &PyBytes_Type;
}

/* A plain value as digests hold it, so that equal digests mean the same
 * value: ("=", value) where == says so (None, int, str, bytes); a float's
 * or complex's bits (a nan equals itself, -0.0 differs from 0.0), and a
 * bool apart from the int it equals. */
static PyObject *atom_digest(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    if (t == &PyFloat_Type) {
        double bits = PyFloat_AS_DOUBLE(value);
        return Py_BuildValue("(sy#)", "=float", (const char *)&bits,
                             (Py_ssize_t)sizeof bits);
    }
    if (t == &PyComplex_Type) {
        Py_complex bits = PyComplex_AsCComplex(value);
        return Py_BuildValue("(sy#)", "=complex", (const char *)&bits,
                             (Py_ssize_t)sizeof bits);
    }
    return Py_BuildValue("(sO)", t == &PyBool_Type ? "=bool" : "=", value);
}

static PyObject *read_as(PyObject *obj);
static PyObject *stand_in_for(PyObject *item);
static PyObject *closure_forms(PyObject *function, int depth);

/* What a closure's cell holds (`value`, held by the caller) as
 * closure_forms() writes it at `depth`: a plain value's atom_digest, a
 * stand-in's witness, a tuple by its items' (plain values, else
 * witnesses) and a closure with its cells' forms while depth is below
 * CLOSURE_DEPTH, anything else its witness (a list, an instance: their
 * type; README). */
static PyObject *cell_form(PyObject *value, int depth)
{
    if (atom(value))
        return atom_digest(value);
    PyObject *standing = stand_in_for(value);
    if (standing && standing != Py_None)
        return Py_NewRef(standing);
    if (PyErr_Occurred())
        return NULL;
    if (depth < CLOSURE_DEPTH && PyTuple_CheckExact(value) &&
        PyTuple_GET_SIZE(value) <= DIGEST_ATTRIBUTES) {
        Py_ssize_t count = PyTuple_GET_SIZE(value);
        PyObject *out = PyTuple_New(count + 1);
        PyObject *tag = name_of(N_TUPLE_TAG);
        if (!out || !tag) {
            Py_XDECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, 0, Py_NewRef(tag));
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *form =
                cell_form(PyTuple_GET_ITEM(value, i), CLOSURE_DEPTH);
            if (!form) {
                Py_DECREF(out);
                return NULL;
            }
            PyTuple_SET_ITEM(out, i + 1, form);
        }
        return out;
    }
    PyObject *seen = witness_of(value);
    if (!seen || Py_TYPE(value) != &PyFunction_Type || depth >= CLOSURE_DEPTH)
        return seen;
    PyObject *cells = closure_forms(value, depth + 1);
    if (cells == Py_None)
        return seen;
    PyObject *out = cells ? PyTuple_Pack(2, seen, cells) : NULL;
    Py_DECREF(seen);
    Py_XDECREF(cells);
    return out;
}

/* What a closure's cells hold, as the form that follows its function's
 * witness where a digest holds the function as a value (a default, an
 * instance's attribute, a container's item): ("=cells", form, ...), each
 * () for an empty cell, else cell_form() at `depth` (1 for the closure
 * held), a cell a unit's operations set by what they will leave.  Two
 * closures of one `def` (a factory's) have one witness and differ here.
 * Borrowed None for a function without cells; NULL with an exception. */
static PyObject *closure_forms(PyObject *function, int depth)
{
    PyObject *closure = ((PyFunctionObject *)function)->func_closure;
    if (!closure || !PyTuple_Check(closure) || PyTuple_GET_SIZE(closure) == 0)
        return Py_None;
    /* Held, and each cell's contents while its form is made: a witness
     * may run Python code (a class's __module__ that is no str) that
     * empties the cell, freeing what it held. */
    Py_INCREF(closure);
    Py_ssize_t count = PyTuple_GET_SIZE(closure);
    PyObject *out = PyTuple_New(count + 1);
    PyObject *tag = name_of(N_CELLS_TAG);
    int failed = !out || !tag;
    if (!failed)
        PyTuple_SET_ITEM(out, 0, Py_NewRef(tag));
    for (Py_ssize_t i = 0; !failed && i < count; i++) {
        PyObject *cell = PyTuple_GET_ITEM(closure, i);
        PyObject *read = read_as(cell);
        PyObject *inside = !read                ? NULL
                           : read != cell       ? Py_NewRef(read)
                           : PyCell_Check(cell) ? Py_XNewRef(PyCell_GET(cell))
                                                : NULL;
        PyObject *form = !read    ? NULL
                         : inside ? cell_form(inside, depth)
                                  : PyTuple_New(0);
        Py_XDECREF(inside);
        failed = !form;
        if (form)
            PyTuple_SET_ITEM(out, i + 1, form);
    }
    Py_DECREF(closure);
    if (failed)
        Py_CLEAR(out);
    return out;
}

/* A plain value's atom_digest, else its witness; a closure's with what
 * its cells hold ((witness, closure_forms()), cell_form()'s way). */
static PyObject *shallow(PyObject *value)
{
    if (atom(value))
        return atom_digest(value);
    if (Py_TYPE(value) == &PyFunction_Type)
        return cell_form(value, 0);
    return witness_of(value);
}

PyObject *pycds_shallow(PyObject *module, PyObject *value)
{
    (void)module;
    return shallow(value);
}

/* (name, length) for a container of more items than the digest has left
 * to look at, else NULL (and they are taken from what is left). */
static PyObject *too_long(PyObject *name, Py_ssize_t length)
{
    if (length > items_left)
        return Py_BuildValue("(On)", name, length);
    items_left -= length;
    return NULL;
}

/* ------------------------------------------------- container digests
 *
 * A container's digest is (type name, length, XXH3-128 of its items'
 * shallow() forms): 16 bytes in a unit's header however many items, and
 * computed at restore without building the forms.  Each form is written
 * into the hash so that equal forms write the same bytes and different
 * ones different bytes: a tag, then a plain value's own bytes (a str's
 * kind and code units, which PEP 393 makes canonical; a float's bits) or
 * a witness's items, with their lengths.  A set's items are hashed one by
 * one and their hashes added, so that its order (which the hash seed
 * decides) does not matter. */

/* What is hashed, written first into a buffer of its own (one XXH3 call
 * over it costs less than a streaming update per value). */
struct hashed {
    unsigned char *bytes;
    size_t used, size;
    unsigned char first[1024];
};

static void hashed_init(struct hashed *h)
{
    h->bytes = h->first;
    h->used = 0;
    h->size = sizeof h->first;
}

static void hashed_free(struct hashed *h)
{
    if (h->bytes != h->first)
        PyMem_Free(h->bytes);
}

/* The XXH3-128 of what was written (16 bytes), the buffer freed; NULL
 * (the buffer freed too) when writing failed. */
static PyObject *hashed_bytes(struct hashed *h, int failed)
{
    XXH128_canonical_t digest;
    if (!failed)
        XXH128_canonicalFromHash(&digest, XXH3_128bits(h->bytes, h->used));
    hashed_free(h);
    return failed ? NULL
                  : PyBytes_FromStringAndSize((const char *)digest.digest,
                                              sizeof digest.digest);
}

/* Room for `more` bytes past what is written: the buffer doubled, out of
 * line (put is inlined at each of its calls, most of them a tag and a
 * fixed-size value that the compiler then copies with one move). */
Py_NO_INLINE static int grow(struct hashed *h, size_t more)
{
    size_t want = (h->used + more) * 2;
    unsigned char *grown = PyMem_Malloc(want);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(grown, h->bytes, h->used);
    hashed_free(h);
    h->bytes = grown;
    h->size = want;
    return 0;
}

static inline int put(struct hashed *h, char tag, const void *bytes,
                      size_t size)
{
    if (h->size - h->used < size + 1 && grow(h, size + 1) < 0)
        return -1;
    h->bytes[h->used++] = (unsigned char)tag;
    if (size)
        memcpy(h->bytes + h->used, bytes, size);
    h->used += size;
    return 0;
}

static int put_sized(struct hashed *state, char tag, const void *bytes,
                     Py_ssize_t count, size_t unit)
{
    int64_t length = count;
    if (put(state, tag, &length, sizeof length) < 0)
        return -1;
    return put(state, '.', bytes, (size_t)count * unit);
}

/* A plain value, or a witness (a tuple of plain values and tuples; what
 * else a witness might hold is written as its repr, which a fresh object
 * changes: the read then fails, as a restore that is unsure should). */
static int feed(struct hashed *state, PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    if (value == Py_None)
        return put(state, 'N', NULL, 0);
    if (t == &PyBool_Type)
        return put(state, value == Py_True ? 'T' : 'F', NULL, 0);
    if (PyLong_Check(value)) {
        int overflow;
        long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (!overflow)
            return small == -1 && PyErr_Occurred()
                       ? -1
                       : put(state, 'i', &small, sizeof small);
        PyObject *hex = PyNumber_ToBase(value, 16); /* no digit limit */
        Py_ssize_t size;
        const char *text = hex ? PyUnicode_AsUTF8AndSize(hex, &size) : NULL;
        int done = text ? put_sized(state, 'I', text, size, 1) : -1;
        Py_XDECREF(hex);
        return done;
    }
    if (t == &PyFloat_Type) {
        double bits = PyFloat_AS_DOUBLE(value);
        return put(state, 'f', &bits, sizeof bits);
    }
    if (t == &PyComplex_Type) {
        Py_complex bits = ((PyComplexObject *)value)->cval;
        return put(state, 'c', &bits, sizeof bits);
    }
    if (PyUnicode_Check(value)) {
        if (pycds_str_ready(value) < 0)
            return -1;
        char kind = (char)PyUnicode_KIND(value);
        return put(state, 's', &kind, 1) < 0
                   ? -1
                   : put_sized(state, '"', PyUnicode_DATA(value),
                               PyUnicode_GET_LENGTH(value),
                               (size_t)PyUnicode_KIND(value));
    }
    if (t == &PyBytes_Type)
        return put_sized(state, 'y', PyBytes_AS_STRING(value),
                         PyBytes_GET_SIZE(value), 1);
    if (PyTuple_Check(value)) {
        int64_t length = PyTuple_GET_SIZE(value);
        if (put(state, 't', &length, sizeof length) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(value); i++)
            if (feed(state, PyTuple_GET_ITEM(value, i)) < 0)
                return -1;
        return 0;
    }
    PyObject *text = PyObject_Repr(value);
    int done =
        text ? put(state, 'r', NULL, 0) < 0 ? -1 : feed(state, text) : -1;
    Py_XDECREF(text);
    return done;
}

/* An item's witness, remembered in `checked` where it may be: a
 * function's, class's or module's by identity (as matches() remembers
 * them: many units' containers hold typing's functions), that of an
 * instance of a type whose instances all have one witness (re's named
 * constants) under the key (type,).  An instance itself is not kept: a
 * restore must not keep alive what the program drops. */
/* {id: witness} of the dumping process's stand-ins while digest() runs
 * (borrowed; NULL at restore, where there are none). */
static PyObject *stand_ins;

/* {id: object} while digest() runs with substitutes (borrowed, else
 * NULL): what a container, or a class's or instance's attributes, will
 * hold once a unit's operations are applied (a copy they were applied to),
 * read in its place. */
static PyObject *substitutes;

/* by_id[id(obj)] (borrowed), NULL when by_id is NULL or holds nothing
 * for obj, or on error (an exception set). */
static PyObject *held_for(PyObject *by_id, PyObject *obj)
{
    if (!by_id)
        return NULL;
    PyObject *id = PyLong_FromVoidPtr(obj);
    PyObject *found = id ? PyDict_GetItemWithError(by_id, id) : NULL;
    Py_XDECREF(id);
    return found;
}

/* What a digest reads for obj: its substitute, else obj (borrowed); NULL
 * on error. */
static PyObject *read_as(PyObject *obj)
{
    PyObject *found = held_for(substitutes, obj);
    return found ? found : PyErr_Occurred() ? NULL : obj;
}

/* item's stand-in witness (None: a stand-in for nothing), borrowed; NULL
 * without one, or on error (an exception set). */
static PyObject *stand_in_for(PyObject *item)
{
    return held_for(stand_ins, item);
}

static PyObject *item_witness(PyObject *item, PyObject *checked)
{
    PyObject *standing = stand_in_for(item);
    if (standing)
        return Py_NewRef(standing);
    if (PyErr_Occurred())
        return NULL;
    if (!checked)
        return witness_of(item);
    if (PyFunction_Check(item) || PyType_Check(item))
        /* (a digest remembered under its container's stamp holds the
         * names in this witness, which no stamp renews: noted) */
        return note_reading(checked, item) < 0
                   ? NULL
                   : remembered_witness(item, checked);
    if (PyModule_CheckExact(item))
        return remembered_witness(item, checked);
    /* By its type where every object of the type has the same witness
     * (None remembered: a C callable's type, whose objects differ), while
     * the type's stamp holds (its name is in the witness). */
    PyTypeObject *type = Py_TYPE(item);
    /* (3.13 renews no version tag when a class's __name__ or __qualname__
     * is set: its names noted, the epoch moves with them) */
    if ((type->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
        note_reading(checked, (PyObject *)type) < 0)
        return NULL;
    uint64_t stamp = witness_stamp((PyObject *)type), was = 0;
    PyObject *known = NULL;
    int found =
        memo_get(checked, MEMO_TYPE_WITNESS, (PyObject *)type, &known, &was);
    if (found < 0)
        return NULL;
    if (found && was == stamp && known != Py_None)
        return known;
    Py_XDECREF(known);
    if (found && was == stamp)
        return witness_of(item);
    int builtin = 0;
    int per_object = c_callable_type(type, &builtin);
    PyObject *seen = per_object < 0 ? NULL : witness_of(item);
    if (seen && stamp &&
        memo_put(checked, MEMO_TYPE_WITNESS, (PyObject *)type,
                 per_object ? NULL : seen, stamp) < 0)
        Py_CLEAR(seen);
    return seen;
}

/* How deep a digest looks into containers: a container's items, and the
 * items of those that are containers themselves (a dict of settings
 * dicts); deeper ones by their witness. */
#define DIGEST_DEPTH 2

static int container(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    return t == &PyDict_Type || t == &PyList_Type || PyTuple_Check(value) ||
           t == &PySet_Type || t == &PyFrozenSet_Type;
}

static PyObject *container_digest(PyObject *value, int depth, PyObject *checked,
                                  int *nested);

/* An item of a container at `depth`, written into the hash: a plain value
 * itself, a container within DIGEST_DEPTH by its own digest (*nested set
 * for a mutable one: the outer digest changes with it), else its
 * witness. */
static PyObject *stand_in_for(PyObject *item);

static int feed_item(struct hashed *state, PyObject *item, int depth,
                     PyObject *checked, int *nested)
{
    if (atom(item))
        return put(state, '=', NULL, 0) < 0 ? -1 : feed(state, item);
    /* A stand-in, container or not, is written as its witness. */
    PyObject *standing = stand_in_for(item);
    if (standing && standing != Py_None)
        return put(state, 'w', NULL, 0) < 0 ? -1 : feed(state, standing);
    if (PyErr_Occurred())
        return -1;
    if (depth < DIGEST_DEPTH && container(item)) {
        /* A tuple or frozenset inside changes only by being replaced,
         * which changes the outer container; a list, dict or set inside
         * has no stamp of its own. */
        if (!PyTuple_Check(item) && !PyFrozenSet_CheckExact(item))
            *nested = 1;
        PyObject *read = read_as(item);
        PyObject *inner =
            read ? container_digest(read, depth + 1, checked, nested) : NULL;
        int done =
            inner ? (put(state, 'C', NULL, 0) < 0 ? -1 : feed(state, inner))
                  : -1;
        Py_XDECREF(inner);
        return done;
    }
    PyObject *seen = item_witness(item, checked);
    /* A closure with what its cells hold, as shallow() gives it (a
     * stand-in for one is written so), its cells noted. */
    PyObject *cells = seen && Py_TYPE(item) == &PyFunction_Type
                          ? closure_forms(item, 1)
                          : Py_None;
    if (cells != Py_None) {
        int noted = cells ? note_cells(checked, item, 1) : -1;
        PyObject *form = noted < 0 ? NULL : PyTuple_Pack(2, seen, cells);
        Py_XDECREF(cells);
        Py_SETREF(seen, form);
    }
    int done =
        seen ? (put(state, 'w', NULL, 0) < 0 ? -1 : feed(state, seen)) : -1;
    Py_XDECREF(seen);
    return done;
}

/* (type name, length) of a container of more items than are left of
 * DIGEST_ITEMS,
 * else (type name, length, XXH3-128 of its items, feed_item's way) at
 * `depth` (1: what a module attribute holds); `checked` may be NULL.  A
 * witness may run Python code that changes the container: each item is
 * taken anew and held while it is written (a change gives another hash). */
static PyObject *hashed_items(PyObject *value, PyObject *name, int depth,
                              PyObject *checked, int *nested)
{
    struct hashed all, one;
    hashed_init(&all);
    hashed_init(&one);
    int is_dict = PyDict_Check(value), set_like = PyAnySet_Check(value);
    int failed = 0;
    int64_t count = 0;
    uint64_t sum_low = 0, sum_high = 0; /* a set's item hashes, added */
    /* (set's own iterator: a subclass's __iter__ is Python code) */
    PyObject *iterator = set_like ? PySet_Type.tp_iter(value) : NULL;
    Py_ssize_t pos = 0;
    failed = set_like && !iterator;
    while (!failed) {
        PyObject *key = NULL, *item = NULL;
        if (is_dict) {
            if (!PyDict_Next(value, &pos, &key, &item))
                break;
            Py_INCREF(key);
            Py_INCREF(item);
        } else if (set_like) {
            if (!(item = PyIter_Next(iterator))) {
                failed = PyErr_Occurred() != NULL;
                break;
            }
        } else {
            if (count >= Py_SIZE(value))
                break;
            item =
                Py_NewRef(PyList_Check(value) ? PyList_GET_ITEM(value, count)
                                              : PyTuple_GET_ITEM(value, count));
        }
        count++;
        if (set_like) {
            one.used = 0;
            failed = feed_item(&one, item, depth, checked, nested) < 0;
            if (!failed) {
                XXH128_hash_t h = XXH3_128bits(one.bytes, one.used);
                sum_low += h.low64;
                sum_high += h.high64 + (sum_low < h.low64);
            }
        } else
            failed =
                (key && feed_item(&all, key, depth, checked, nested) < 0) ||
                feed_item(&all, item, depth, checked, nested) < 0;
        Py_XDECREF(key);
        Py_DECREF(item);
    }
    Py_XDECREF(iterator);
    uint64_t sum[2] = {sum_low, sum_high};
    if (!failed && set_like)
        failed = put(&all, 'S', sum, sizeof sum) < 0;
    XXH128_canonical_t bytes;
    if (!failed)
        XXH128_canonicalFromHash(&bytes, XXH3_128bits(all.bytes, all.used));
    hashed_free(&all);
    hashed_free(&one);
    if (failed)
        return NULL;
    return Py_BuildValue("(OLy#)", name, (long long)count,
                         (const char *)bytes.digest,
                         (Py_ssize_t)sizeof bytes.digest);
}

/* A type's __name__ (new reference): the built-in containers' made once
 * (PyType_GetName makes a str of a static type's name each time). */
static PyObject *container_type_name(PyTypeObject *t)
{
    static PyTypeObject *const TYPES[] = {&PyTuple_Type, &PyList_Type,
                                          &PyDict_Type, &PySet_Type,
                                          &PyFrozenSet_Type};
    static PyObject *names[sizeof TYPES / sizeof *TYPES];
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
        if (t == TYPES[i]) {
            if (!names[i] && !(names[i] = PyType_GetName(t)))
                return NULL;
            return Py_NewRef(names[i]);
        }
    return PyType_GetName(t);
}

static PyObject *container_digest(PyObject *value, int depth, PyObject *checked,
                                  int *nested)
{
    PyObject *name = container_type_name(Py_TYPE(value));
    if (!name)
        return NULL;
    /* Its own count, not len(): a tuple subclass's __len__ is Python code
     * (platform's uname_result asks `uname -p` of a subprocess). */
    Py_ssize_t length = PyDict_Check(value)     ? PyDict_GET_SIZE(value)
                        : PyAnySet_Check(value) ? PySet_GET_SIZE(value)
                                                : Py_SIZE(value);
    Py_ssize_t outer = items_left;
    if (depth == 1)
        items_left = DIGEST_ITEMS;
    PyObject *out = too_long(name, length);
    if (!out && !PyErr_Occurred())
        out = hashed_items(value, name, depth, checked, nested);
    if (depth == 1)
        items_left = outer;
    Py_DECREF(name);
    return out;
}

static int note_referent(PyObject *obj, void *found)
{
    *(PyObject **)found = obj;
    return 0;
}

/* The mapping a types.MappingProxyType shows (borrowed), found as
 * gc.get_referents finds it (its only referent), else NULL. */
static PyObject *proxied(PyObject *value)
{
    PyObject *found = NULL;
    if (Py_TYPE(value) == &PyDictProxy_Type && Py_TYPE(value)->tp_traverse)
        (void)Py_TYPE(value)->tp_traverse(value, note_referent, &found);
    return found;
}

/* ------------------------------------------------ classes' and functions'
 * state
 *
 * A read of a class or a function is its witness and, where a program can
 * change what the body saw through it without replacing it, a hash of
 * that state: a class's own attributes and those of the classes of its
 * MRO that are not static (a method or a setting patched on a base before
 * the import); a function's closure cells, defaults and keyword defaults
 * (a cache a closure fills), and its own attributes (a marker).  A class's
 * attributes are one level (a container among them by its witness), a cell's
 * contents as a module attribute's (a container by its items). */

/* The tags that mark a digest as (tag, witness, state), and an
 * instance's as (tag, digest, its class's state). */
static PyObject *state_tag(void)
{
    return name_of(N_STATE_TAG);
}

static PyObject *class_tag(void)
{
    return name_of(N_CLASS_TAG);
}

static int append_pair(PyObject *list, PyObject *a, PyObject *b)
{
    PyObject *pair = PyTuple_Pack(2, a, b);
    int done = pair ? PyList_Append(list, pair) : -1;
    Py_XDECREF(pair);
    return done;
}

/* Whether a heap type was made by C (PyType_FromSpec and friends, which
 * keep their own copy of the name or the module: pyo3's, Cython's
 * classes) rather than by a class statement.  The order of such a class's
 * namespace can differ from process to process (pyo3 fills it from a
 * hash map), so it is hashed in the order of its names. */
static int made_by_c(PyTypeObject *type)
{
    PyHeapTypeObject *heap = (PyHeapTypeObject *)type;
    return (type->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
           (heap->_ht_tpname != NULL || heap->ht_module != NULL);
}

/* The next (key, value) of ns (borrowed), in `order` (a list of its keys)
 * when there is one, else the dict's: 1, 0 at the end, -1 on error. */
static int next_attribute(PyObject *ns, PyObject *order, Py_ssize_t *pos,
                          PyObject **key, PyObject **value)
{
    if (!order)
        return PyDict_Next(ns, pos, key, value);
    while (*pos < PyList_GET_SIZE(order)) {
        *key = PyList_GET_ITEM(order, (*pos)++);
        *value = PyDict_GetItemWithError(ns, *key);
        if (*value)
            return 1;
        if (PyErr_Occurred())
            return -1;
    }
    return 0;
}

static int feed_function_state(struct hashed *all, PyObject *function,
                               PyObject *checked, int as_method);
static int python_instance(PyObject *value);
static PyObject *shallow_attrs(PyObject *dict, PyObject *checked);
static PyObject *own_attrs(PyObject *obj);

/* A method's state (function_state() without cells) into `state`, if
 * `held` is a function (what a property's getter or a classmethod wraps:
 * a default a program changed first); nothing for anything else. */
static int feed_method(struct hashed *state, PyObject *held, PyObject *checked)
{
    if (!held || Py_TYPE(held) != &PyFunction_Type)
        return 0;
    return put(state, 'F', NULL, 0) < 0 ||
                   feed_function_state(state, held, checked, 1) < 0
               ? -1
               : 0;
}

/* The functions a property or a classmethod or staticmethod wraps, into
 * `state` (read by their C members: no Python code runs). */
static int feed_wrapped(struct hashed *state, PyObject *item, PyObject *checked)
{
    static const enum name_index PROPERTY[] = {N_FGET, N_FSET, N_FDEL, N_COUNT};
    static const enum name_index METHOD[] = {N_WRAPPED_FUNC, N_COUNT};
    PyTypeObject *t = Py_TYPE(item);
    const enum name_index *names =
        t == &PyProperty_Type                                   ? PROPERTY
        : t == &PyClassMethod_Type || t == &PyStaticMethod_Type ? METHOD
                                                                : NULL;
    for (; names && *names != N_COUNT; names++) {
        PyObject *held = get_attr(item, *names);
        int failed = !held || feed_method(state, held, checked) < 0;
        Py_XDECREF(held);
        if (failed)
            return -1;
    }
    return 0;
}

static int feed_held_class(struct hashed *state, PyTypeObject *owner,
                           PyObject *cls, PyObject *checked, PyObject *held,
                           PyObject *mutables);
static int exact_partial(PyObject *value);
static int has_slot_values(PyTypeObject *type);
static PyObject *slot_values(PyObject *obj);

/* What an exact functools.partial a class holds calls: its function as a
 * method's state, its arguments and keywords by their items (a dict, so
 * what holds it is not remembered: *nested). */
static int feed_partial(struct hashed *state, PyObject *item, PyObject *checked,
                        int *nested)
{
    enum name_index names[3] = {N_FUNC, N_ARGS, N_KEYWORDS};
    PyObject *parts[3] = {NULL, NULL, NULL};
    int failed = put(state, 'P', NULL, 0) < 0;
    for (int i = 0; i < 3 && !failed; i++)
        failed = !(parts[i] = get_attr(item, names[i]));
    failed = failed || feed_method(state, parts[0], checked) < 0 ||
             feed_item(state, parts[1], 0, checked, nested) < 0 ||
             feed_item(state, parts[2], 0, checked, nested) < 0;
    for (int i = 0; i < 3; i++)
        Py_XDECREF(parts[i]);
    return failed ? -1 : 0;
}

/* A class attribute's value into `state`: a tuple or frozenset by its
 * items (a class's OPTIONS tuple a program replaced first), a method by
 * its witness and state (its defaults, code...: no cells), and so the
 * functions a property or classmethod wraps, an instance by its witness
 * and its attributes' shallow() forms (a settings object a program
 * replaced or changed first), the rest as a container's items are.  A
 * class, and an instance's class, with its state where `held` collects
 * (feed_held_class: a nested class's methods, an attribute the instance
 * takes from its class; their containers onto `mutables`), and a
 * functools.partial with what it calls. */
static int feed_class_value(struct hashed *state, PyObject *item,
                            PyObject *checked, int *nested, int watched,
                            PyTypeObject *owner, PyObject *held,
                            PyObject *mutables)
{
    /* (From depth 0, as a module attribute's: a digest's count of items
     * looked at starts there, not where the last digest left it.) */
    if (PyTuple_CheckExact(item) || PyFrozenSet_CheckExact(item))
        return feed_item(state, item, 0, checked, nested);
    if (feed_item(state, item, DIGEST_DEPTH, checked, nested) < 0)
        return -1;
    /* (One a stand-in names is written as the stand-in's witness alone,
     * and so are the methods of a class whose methods the planner
     * replaces with its watchers: a restore finds the real ones.) */
    if (watched || stand_in_for(item))
        return 0;
    if (PyErr_Occurred())
        return -1;
    if (Py_TYPE(item) == &PyFunction_Type)
        return feed_method(state, item, checked);
    if (PyType_Check(item))
        return feed_held_class(state, owner, item, checked, held, mutables);
    if (!python_instance(item))
        return feed_wrapped(state, item, checked);
    PyObject *read = read_as(item);
    PyObject *attrs = !read          ? NULL
                      : read != item ? Py_NewRef(read)
                                     : own_attrs(item);
    if (!attrs)
        return -1;
    int failed = 0;
    if (PyDict_CheckExact(attrs) &&
        PyDict_GET_SIZE(attrs) <= DIGEST_ATTRIBUTES) {
        PyObject *pairs = shallow_attrs(attrs, checked);
        failed =
            !pairs || put(state, 'i', NULL, 0) < 0 || feed(state, pairs) < 0;
        Py_XDECREF(pairs);
    }
    Py_DECREF(attrs);
    /* (its class and attributes change with no stamp of the owner's:
     * noted, slots or many attributes too) */
    if (!failed && read == item)
        failed = note_reading(checked, item) < 0;
    /* Its slots' values, as a module attribute's digest holds them; no
     * reading covers them: what holds it is not remembered. */
    if (!failed && has_slot_values(Py_TYPE(item))) {
        PyObject *slots = slot_values(item);
        *nested = 1;
        failed =
            !slots || put(state, 's', NULL, 0) < 0 || feed(state, slots) < 0;
        Py_XDECREF(slots);
    }
    if (!failed && exact_partial(item))
        failed = feed_partial(state, item, checked, nested) < 0;
    if (!failed)
        failed = feed_held_class(state, owner, (PyObject *)Py_TYPE(item),
                                 checked, held, mutables) < 0;
    return failed ? -1 : 0;
}

/* One class's own attributes into `state`; its lists, dicts and sets only
 * by name, appended as (name, container) to `mutables`: what they hold
 * changes with no new version tag, so class_state() reads them each time.
 * The classes it holds, and those of instances it holds, with their state
 * where `held` is a list (feed_held_class), by their witness alone where
 * it is NULL. */
static int feed_namespace(struct hashed *state, PyTypeObject *type,
                          PyObject *checked, PyObject *mutables, PyObject *held)
{
    PyObject *read = read_as((PyObject *)type);
    if (!read)
        return -1;
    PyObject *ns =
        read != (PyObject *)type ? Py_NewRef(read) : pycds_type_namespace(type);
    if (!ns)
        return PyErr_Occurred() ? -1 : put(state, 'n', NULL, 0);
    int failed = !PyDict_Check(ns);
    if (failed)
        pycds_raise(PYCDS_ERROR_TYPE, "a class namespace that is no dict");
    /* The import system's classes (its loaders), whose methods the
     * planner watches (pycds/_snapshot_child.py's _wrap). */
    PyObject *module_key = failed ? NULL : name_of(N_MODULE);
    PyObject *home =
        module_key ? PyDict_GetItemWithError(ns, module_key) : NULL;
    int watched = home && PyUnicode_Check(home) &&
                  (is(home, "_frozen_importlib") ||
                   is(home, "_frozen_importlib_external"));
    failed = failed || PyErr_Occurred();
    PyObject *order = !failed && made_by_c(type) ? PyDict_Keys(ns) : NULL;
    if (order && PyList_Sort(order) < 0)
        Py_CLEAR(order);
    failed = failed || (made_by_c(type) && !order);
    PyObject *key, *item;
    Py_ssize_t pos = 0;
    int nested = 0, next;
    while (!failed &&
           (next = next_attribute(ns, order, &pos, &key, &item)) != 0) {
        if (next < 0) {
            failed = 1;
            break;
        }
        Py_INCREF(key);
        Py_INCREF(item);
        /* A stand-in for nothing: the dumping process added the attribute
         * (a wrapper over an inherited method); the class has none. */
        PyObject *standing = stand_in_for(item);
        failed = PyErr_Occurred() != NULL;
        /* Caches, filled in whatever process first asks, not a class's
         * state: copyreg's of its slot names (copy, pickle), an enum's of
         * values to members (a composite flag made by a lookup). */
        int cache = is(key, "__slotnames__") || is(key, "_value2member_map_");
        PyTypeObject *t = Py_TYPE(item);
        int mutable = !standing && (t == &PyList_Type || t == &PyDict_Type ||
                                    t == &PySet_Type);
        if (!failed && !cache && standing != Py_None)
            failed =
                put(state, mutable ? 'm' : 'k', NULL, 0) < 0 ||
                feed_item(state, key, DIGEST_DEPTH, checked, &nested) < 0 ||
                (mutable ? append_pair(mutables, key, item)
                         : feed_class_value(state, item, checked, &nested,
                                            watched, type, held, mutables)) < 0;
        Py_DECREF(key);
        Py_DECREF(item);
    }
    Py_XDECREF(order);
    Py_DECREF(ns);
    /* (a list in a tuple it holds: hashed by its items, unstamped) */
    if (nested)
        unwatched_containers++;
    return failed || put(state, 'K', NULL, 0) < 0 ? -1 : 0;
}

/* How many namespace_hash() made in this process (tests: a class read
 * again within one import is not hashed again). */
static uint64_t namespace_hashes_made;

PyObject *pycds_namespace_hashes(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(namespace_hashes_made);
}

/* (XXH3-128 of one class's own attributes (16 bytes), its mutable
 * containers as feed_namespace() leaves them out, the (class, stamp)
 * pairs of the classes whose state it holds), `shallow`: those classes
 * by their witness alone. */
static PyObject *namespace_hash(PyTypeObject *type, PyObject *checked,
                                int shallow)
{
    namespace_hashes_made++;
    struct hashed all;
    hashed_init(&all);
    PyObject *mutables = PyList_New(0);
    PyObject *held = shallow ? NULL : PyList_New(0);
    int failed = !mutables || (!shallow && !held) ||
                 feed_namespace(&all, type, checked, mutables, held) < 0;
    PyObject *hash = hashed_bytes(&all, failed);
    PyObject *listed = hash ? PyList_AsTuple(mutables) : NULL;
    PyObject *classes = !listed   ? NULL
                        : shallow ? PyTuple_New(0)
                                  : PyList_AsTuple(held);
    PyObject *out = classes ? PyTuple_Pack(3, hash, listed, classes) : NULL;
    Py_XDECREF(hash);
    Py_XDECREF(listed);
    Py_XDECREF(classes);
    Py_XDECREF(mutables);
    Py_XDECREF(held);
    return out;
}

/* Whether the classes a namespace hash holds the state of still have the
 * stamps they had (their own attributes and their bases' unchanged): 1,
 * 0 (also where one has none to be had), or -1 with an exception. */
static int held_stamps_hold(PyObject *hash)
{
    PyObject *classes = PyTuple_GET_ITEM(hash, 2);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(classes); i++) {
        PyObject *pair = PyTuple_GET_ITEM(classes, i);
        unsigned long was = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(pair, 1));
        if (was == (unsigned long)-1 && PyErr_Occurred())
            return -1;
        if (!was ||
            was != pycds_type_stamp((PyTypeObject *)PyTuple_GET_ITEM(pair, 0)))
            return 0;
    }
    return 1;
}

/* namespace_hash(), remembered in `checked` while the class's stamp holds
 * (many units read typing's and enum's classes, and a class's bases are
 * those of many others), and those of the classes whose state it holds:
 * each class is hashed once per import. */
static PyObject *remembered_namespace_hash(PyTypeObject *type,
                                           PyObject *checked, int shallow)
{
    unsigned int stamp = checked ? pycds_type_stamp(type) : 0;
    if (!stamp)
        return namespace_hash(type, checked, shallow);
    int kind = shallow ? MEMO_SHALLOW : MEMO_NAMESPACE;
    PyObject *out = NULL;
    uint64_t was = 0;
    int found = memo_get(checked, kind, (PyObject *)type, &out, &was);
    int holds = found > 0 && was == stamp ? held_stamps_hold(out) : 0;
    if (found < 0 || holds < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    if (holds)
        return out;
    Py_CLEAR(out);
    struct memo_since since;
    if (memo_since_now(checked, &since) < 0)
        return NULL;
    out = namespace_hash(type, checked, shallow);
    /* A witness may run Python code that changes the class: the stamp
     * taken before then no longer matches, and the next call looks
     * again (so for the classes it holds, whose stamps were taken before
     * their state was hashed). */
    holds = out ? held_stamps_hold(out) : -1;
    if (holds < 0 || (holds && memo_put_since(checked, kind, (PyObject *)type,
                                              out, stamp, &since) < 0))
        Py_CLEAR(out);
    return out;
}

/* A heap class of an MRO by its namespace hash (remembered_namespace_hash(),
 * `shallow` as there) into `state`, *own set to that (hash, mutables,
 * held) (a new reference); nothing for a static class (*own NULL).  0,
 * or -1 with an exception. */
static int feed_base_namespace(struct hashed *state, PyObject *base,
                               PyObject *checked, int shallow, PyObject **own)
{
    *own = NULL;
    if (!PyType_Check(base) ||
        !(((PyTypeObject *)base)->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 0;
    PyObject *out =
        remembered_namespace_hash((PyTypeObject *)base, checked, shallow);
    PyObject *hash = out ? PyTuple_GET_ITEM(out, 0) : NULL;
    if (!out || put(state, '|', PyBytes_AS_STRING(hash),
                    (size_t)PyBytes_GET_SIZE(hash)) < 0) {
        Py_XDECREF(out);
        return -1;
    }
    *own = out;
    return 0;
}

/* The heap classes of `mro` into `state` by their shallow namespace
 * hashes, their lists, dicts and sets onto `mutables` (feed_held_class).
 * 0, or -1 with an exception. */
static int feed_held_mro(struct hashed *state, PyObject *mro, PyObject *checked,
                         PyObject *mutables)
{
    if (!mro || !PyTuple_Check(mro)) {
        pycds_raise(PYCDS_ERROR_TYPE, "a class without its MRO");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *own = NULL;
        if (feed_base_namespace(state, PyTuple_GET_ITEM(mro, i), checked, 1,
                                &own) < 0)
            return -1;
        if (!own)
            continue;
        PyObject *its = PyTuple_GET_ITEM(own, 1);
        int failed = 0;
        for (Py_ssize_t m = 0; !failed && m < PyTuple_GET_SIZE(its); m++) {
            PyObject *entry = PyTuple_GET_ITEM(its, m);
            PyObject *name = PyTuple_Pack(1, PyTuple_GET_ITEM(entry, 0));
            failed = !name || append_pair(mutables, name,
                                          PyTuple_GET_ITEM(entry, 1)) < 0;
            Py_XDECREF(name);
        }
        Py_DECREF(own);
        if (failed)
            return -1;
    }
    return 0;
}

/* (class, its stamp) onto `held`: 0, or -1 with an exception. */
static int note_held(PyObject *held, PyObject *cls)
{
    PyObject *pair =
        Py_BuildValue("(OI)", cls, pycds_type_stamp((PyTypeObject *)cls));
    int done = pair ? PyList_Append(held, pair) : -1;
    Py_XDECREF(pair);
    return done;
}

/* The state of a class a class attribute holds, or of the class of an
 * instance one holds (an attribute the instance takes from there, a
 * nested class's methods), into `state`: each heap class of its MRO by
 * its own attributes as namespace_hash() writes them, with the classes
 * those hold by their witness alone (one level: no cycle to follow), and
 * so the heap classes of its metaclass's MRO (an attribute read through
 * the held class that its metaclass holds).
 * Their lists, dicts and sets go onto `mutables` as ((name,), container)
 * pairs: no stamp covers what those hold, so the owner's state reads
 * them at each check as it reads its own (feed_mro_state), and the
 * owner's namespace hash, which then holds only what stamps cover, is
 * remembered.  (Hashed into it, they had every enum.Flag class hashed
 * again at each read: Flag holds FlagBoundary.STRICT, whose class holds
 * its member lists.)  Nothing where `held` is NULL (a level down
 * already), for a static or immutable class, or for one of the owner's
 * MRO (any reader of the owner's state reads that class's too).
 * (class, stamp) appended to `held`, and (metaclass, stamp) for a heap
 * metaclass: the owner's namespace hash holds while the stamps do. */
static int feed_held_class(struct hashed *state, PyTypeObject *owner,
                           PyObject *cls, PyObject *checked, PyObject *held,
                           PyObject *mutables)
{
    PyTypeObject *t = (PyTypeObject *)cls;
    if (!held || !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) ||
        (t->tp_flags & Py_TPFLAGS_IMMUTABLETYPE) || PyType_IsSubtype(owner, t))
        return 0;
    /* Held: a witness may run Python code that gives the instance whose
     * class this is another class, which may free this one (or give the
     * class another metaclass).  Their stamps taken first: a change while
     * their state is hashed gives others. */
    PyObject *meta = (PyObject *)Py_TYPE(cls);
    int heap_meta =
        (((PyTypeObject *)meta)->tp_flags & Py_TPFLAGS_HEAPTYPE) != 0;
    Py_INCREF(cls);
    Py_INCREF(meta);
    PyObject *mro = Py_XNewRef(t->tp_mro);
    PyObject *meta_mro = Py_XNewRef(((PyTypeObject *)meta)->tp_mro);
    int failed =
        note_held(held, cls) < 0 || (heap_meta && note_held(held, meta) < 0) ||
        put(state, 'H', NULL, 0) < 0 ||
        feed_held_mro(state, mro, checked, mutables) < 0 ||
        (heap_meta && (put(state, '^', NULL, 0) < 0 ||
                       feed_held_mro(state, meta_mro, checked, mutables) < 0));
    Py_XDECREF(mro);
    Py_XDECREF(meta_mro);
    Py_DECREF(meta);
    Py_DECREF(cls);
    return failed ? -1 : 0;
}

/* The state of a class: the hashes of its own attributes and those of
 * the classes of its MRO that are not static; None for a static class
 * (nothing can change it). */
static PyObject *remembered_digest(PyObject *value, PyObject *checked);

/* The state of the heap classes of an MRO into `all`: each class's own
 * attributes (its namespace hash), then its lists, dicts and sets and
 * those of the classes it holds, by their items: 0, or -1 with an
 * exception; *holds_containers set when a class holds a class, or a
 * container that no stamp an instance's remembered digest holds says
 * changed (below). */
static int feed_mro_state(struct hashed *all, PyObject *mro, PyObject *checked,
                          int *holds_containers)
{
    int failed = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro) && !failed; i++) {
        PyObject *own = NULL;
        if (feed_base_namespace(all, PyTuple_GET_ITEM(mro, i), checked, 0,
                                &own) < 0)
            return -1;
        if (!own)
            continue;
        PyObject *mutables = PyTuple_GET_ITEM(own, 1);
        /* The state of classes it holds, whose stamps an instance's
         * remembered digest does not hold (remembered_namespace_hash
         * checks them). */
        if (PyTuple_GET_SIZE(PyTuple_GET_ITEM(own, 2)))
            *holds_containers = 1;
        /* Its lists, dicts and sets by their items, as a module
         * attribute's (a registry of plugins on a base class). */
        int nested = 0;
        for (Py_ssize_t m = 0; !failed && m < PyTuple_GET_SIZE(mutables); m++) {
            PyObject *pair = PyTuple_GET_ITEM(mutables, m);
            PyObject *held = PyTuple_GET_ITEM(pair, 1);
            /* What an instance's remembered digest cannot vouch for: a
             * list or set (no stamp), or on 3.11 a dict too (its stamp
             * is its own; 3.12's count every watched dict's changes,
             * which the instance's stamp holds: remembered_digest). */
            if (PYCDS_PY311 || !PyDict_CheckExact(held))
                *holds_containers = 1;
            failed = put(all, 'M', NULL, 0) < 0 ||
                     feed(all, PyTuple_GET_ITEM(pair, 0)) < 0;
            if (failed)
                break;
            if (!checked) {
                failed = feed_item(all, held, 0, checked, &nested) < 0;
                continue;
            }
            /* What feed_item() writes of a container, a dict's digest
             * remembered while its stamp holds (annotations, enums' maps). */
            PyObject *digest = remembered_digest(held, checked);
            failed =
                !digest || put(all, 'C', NULL, 0) < 0 || feed(all, digest) < 0;
            Py_XDECREF(digest);
        }
        Py_XDECREF(own);
    }
    return failed ? -1 : 0;
}

/* The state of a class: the hashes of its own attributes and those of
 * the classes of its MRO that are not static, then those of its
 * metaclass's (an attribute read through the class that the metaclass
 * holds: a setting a program changed there first); None for a static
 * class (nothing can change it). */
static PyObject *class_state(PyTypeObject *type, PyObject *checked, int *nested)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE))
        Py_RETURN_NONE;
    PyObject *mro = type->tp_mro;
    PyObject *meta_mro = Py_TYPE(type)->tp_mro;
    if (!mro || !PyTuple_Check(mro) || !meta_mro || !PyTuple_Check(meta_mro))
        return pycds_raise(PYCDS_ERROR_TYPE, "a class without its MRO");
    int heap_meta = (Py_TYPE(type)->tp_flags & Py_TPFLAGS_HEAPTYPE) != 0;
    Py_INCREF(mro);
    Py_INCREF(meta_mro);
    struct hashed all;
    hashed_init(&all);
    int failed =
        feed_mro_state(&all, mro, checked, nested) < 0 ||
        (heap_meta && (put(&all, '^', NULL, 0) < 0 ||
                       feed_mro_state(&all, meta_mro, checked, nested) < 0));
    Py_DECREF(mro);
    Py_DECREF(meta_mro);
    return hashed_bytes(&all, failed);
}

/* A function's attributes (a new reference) with each read-only view of a
 * dict in place of the dict it shows (singledispatch's `registry`, which
 * a program's register() fills); NULL and no exception for NULL. */
static PyObject *shown_attrs(PyObject *attrs)
{
    if (!attrs)
        return NULL;
    PyObject *out = PyDict_Copy(attrs);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (out && PyDict_Next(attrs, &pos, &key, &value)) {
        PyObject *shown = proxied(value);
        if (shown && PyDict_CheckExact(shown) &&
            PyDict_SetItem(out, key, shown) < 0)
            Py_CLEAR(out);
    }
    return out;
}

static PyObject *digest_noting(PyObject *value, PyObject *checked, int *nested);

/* Whether value is an instance of a class written in Python (no class,
 * function, method or module): an object a closure reads through. */
static int python_instance(PyObject *value)
{
    return (Py_TYPE(value)->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
           !PyType_Check(value) && !PyMethod_Check(value) &&
           !PyModule_Check(value);
}

/* The XXH3-128 (16 bytes) of a code object's bytecode, constants and
 * names, remembered in `checked` by the object (code never changes). */
static PyObject *code_hash(PyCodeObject *code, PyObject *checked)
{
    PyObject *known = NULL;
    uint64_t unused;
    int found = checked ? memo_get(checked, MEMO_CODE, (PyObject *)code, &known,
                                   &unused)
                        : 0;
    if (found)
        return found < 0 ? NULL : known;
    struct hashed all;
    hashed_init(&all);
    int nested = 0;
    PyObject *bytecode = PyCode_GetCode(code);
    int failed = !bytecode || feed(&all, bytecode) < 0 ||
                 feed_item(&all, code->co_consts, 0, checked, &nested) < 0 ||
                 feed_item(&all, code->co_names, 0, checked, &nested) < 0;
    Py_XDECREF(bytecode);
    PyObject *out = hashed_bytes(&all, failed);
    if (out && checked &&
        memo_put(checked, MEMO_CODE, (PyObject *)code, out, 0) < 0)
        Py_CLEAR(out);
    return out;
}

/* What a function runs and where its global names come from, into
 * `all`: with_code, its code's bytecode, constants and names (a program
 * that put other code in `__code__`, of the same file and line, is not
 * what the body called), and whose globals it has (below). */
static int feed_code_and_globals(struct hashed *all, PyFunctionObject *f,
                                 PyObject *checked, int with_code)
{
    PyCodeObject *code = (PyCodeObject *)Py_NewRef(f->func_code);
    PyObject *globals = Py_NewRef(f->func_globals);
    PyObject *hash = with_code ? code_hash(code, checked) : NULL;
    int failed = with_code &&
                 (!hash || put(all, 'c', NULL, 0) < 0 || feed(all, hash) < 0);
    Py_XDECREF(hash);
    /* Whose globals: their __name__, and whether their __file__ is where
     * the code was compiled from, which a module's is (a function made
     * over a namespace of its own, `types.FunctionType(f.__code__, ns)`,
     * has none).  Not sys.modules: which modules it holds changes with
     * the imports (3.13's collections.abc is _collections_abc, whose
     * __name__ it is, only once it was imported). */
    PyObject *name = NULL, *file = NULL;
    if (!failed && PyDict_Check(globals)) {
        PyObject *name_key = name_of(N_NAME), *file_key = name_of(N_FILE);
        name = name_key ? PyDict_GetItemWithError(globals, name_key) : NULL;
        file = !PyErr_Occurred() && file_key
                   ? PyDict_GetItemWithError(globals, file_key)
                   : NULL;
        failed = PyErr_Occurred() != NULL;
    }
    int compiled_there = !failed && same_text(file, code->co_filename);
    /* (held: a witness fed may run Python code that changes the globals) */
    name = name && PyUnicode_CheckExact(name) ? Py_NewRef(name)
                                              : Py_NewRef(Py_None);
    if (!failed)
        failed = put(all, compiled_there ? 'G' : 'g', NULL, 0) < 0 ||
                 feed(all, name) < 0;
    Py_DECREF(name);
    Py_DECREF(globals);
    Py_DECREF(code);
    return failed ? -1 : 0;
}

/* Whether a default holds a list, dict or set (in a tuple too), whose
 * changes tell no watcher. */
static int holds_mutable(PyObject *value, int depth)
{
    if (PyTuple_Check(value)) {
        int found = depth > DIGEST_DEPTH;
        for (Py_ssize_t i = 0; !found && i < PyTuple_GET_SIZE(value); i++)
            found = holds_mutable(PyTuple_GET_ITEM(value, i), depth + 1);
        return found;
    }
    if (PyFrozenSet_CheckExact(value)) {
        PyObject *iterator = PyObject_GetIter(value), *item;
        int found = depth > DIGEST_DEPTH || !iterator;
        while (!found && (item = PyIter_Next(iterator))) {
            found = holds_mutable(item, depth + 1);
            Py_DECREF(item);
        }
        Py_XDECREF(iterator);
        if (PyErr_Occurred()) { /* (none to be expected): as though held */
            PyErr_Clear();
            found = 1;
        }
        return found;
    }
    return !atom(value) && container(value);
}

/* Whether a function's attributes (a dict) hold a list, dict or set (a
 * registry a decorator keeps there), whose changes tell no watcher. */
static int attrs_hold_mutable(PyObject *attrs)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(attrs, &pos, &key, &value))
        if (holds_mutable(value, 1))
            return 1;
    return 0;
}

#if PYCDS_FUNCTION_STAMPS
/* A keyword-defaults dict hashed: changed in place, it counts as a
 * change to its function (memo_epoch). */
static int count_kwdefaults_change(PyDict_WatchEvent event, PyObject *dict,
                                   PyObject *key, PyObject *new_value)
{
    (void)dict, (void)key, (void)new_value;
    if (event != PyDict_EVENT_DEALLOCATED)
        function_changes++;
    return 0;
}
#endif

/* After a function's defaults (a tuple) or keyword defaults (a dict) were
 * hashed: the second watched where a watcher can be had (3.12+), and
 * either counted unwatched when it holds a mutable container.  0, or -1
 * with an exception. */
static int watch_defaults(PyObject *values)
{
    int mutable = 0;
    if (PyDict_Check(values)) {
#if PYCDS_FUNCTION_STAMPS
        if (kwdefaults_watcher == -1 && (kwdefaults_watcher = PyDict_AddWatcher(
                                             count_kwdefaults_change)) < 0) {
            PyErr_Clear();
            kwdefaults_watcher = -2;
        }
        if (kwdefaults_watcher < 0)
            unwatched_containers++;
        else if (PyDict_Watch(kwdefaults_watcher, values) < 0)
            return -1;
#endif
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (!mutable && PyDict_Next(values, &pos, &key, &value))
            mutable = holds_mutable(value, 1);
    } else
        mutable = holds_mutable(values, 0);
    if (mutable)
        unwatched_containers++;
    return 0;
}

/* A function's annotations as a dict of them: what __annotations__ gives
 * (3.11-3.13 keep a function's as the tuple of pairs its code made until
 * the attribute is first read, and none until then where it has none:
 * reading it makes an empty dict), so the forms hash alike.  A new
 * reference; NULL with no exception for none. */
static PyObject *annotations_of(PyFunctionObject *f)
{
    PyObject *held = f->func_annotations;
    if (!held || (PyDict_Check(held) && PyDict_GET_SIZE(held) == 0) ||
        (PyTuple_CheckExact(held) && PyTuple_GET_SIZE(held) == 0))
        return NULL;
    if (PyDict_Check(held) && !PyDict_CheckExact(held)) {
        /* A dict subclass's items, in a dict that digests hash by them
         * (a subclass is hashed by its type alone). */
        PyObject *out = PyDict_New();
        if (out && PyDict_Merge(out, held, 1) < 0)
            Py_CLEAR(out);
        return out;
    }
    if (!PyTuple_CheckExact(held))
        return Py_NewRef(held);
    Py_ssize_t length = PyTuple_GET_SIZE(held);
    PyObject *out = length % 2 == 0 ? PyDict_New() : Py_NewRef(held);
    for (Py_ssize_t i = 0; out && PyDict_CheckExact(out) && i < length; i += 2)
        if (PyDict_SetItem(out, PyTuple_GET_ITEM(held, i),
                           PyTuple_GET_ITEM(held, i + 1)) < 0)
            Py_CLEAR(out);
    return out;
}

/* What a function's __name__, __doc__, __module__, __annotations__ and
 * __type_params__ (3.12+) give, into `all` (a decorator such as functools.wraps
 * copies them; a program may set them first).  None of them renews a function
 * watcher's count: between two units of one import they are not seen (README).
 */
static int feed_function_names(struct hashed *all, PyFunctionObject *f,
                               PyObject *checked)
{
    PyObject *annotations = annotations_of(f);
    if (!annotations && PyErr_Occurred())
        return -1;
    /* Held from the start, as feed_function_state()'s parts are. */
    PyObject *parts[5] = {Py_XNewRef(f->func_name), Py_XNewRef(f->func_doc),
                          Py_XNewRef(f->func_module), annotations,
                          Py_XNewRef(pycds_function_type_params(f))};
    int unused = 0, failed = put(all, 'N', NULL, 0) < 0;
    for (int part = 0; part < 5 && !failed; part++)
        failed = !parts[part]
                     ? put(all, '0', NULL, 0) < 0
                     : feed_item(all, parts[part], part == 3 ? 0 : DIGEST_DEPTH,
                                 checked, &unused) < 0;
    /* The function's own annotations dict, as its keyword defaults: a
     * change in place moves the epoch where a watcher can be had (3.12+),
     * and the function's reading keeps its items (note_reading), compared
     * wherever code may have run.  A list, dict or set among them, and
     * one kept as a tuple, counted unwatched (watch_defaults). */
    PyObject *own = Py_XNewRef(f->func_annotations);
    if (!failed && annotations) {
        if (annotations == own || (own && PyDict_Check(own)))
            failed = watch_defaults(own) < 0;
        else if (attrs_hold_mutable(annotations)) /* made from its tuple */
            unwatched_containers++;
    }
    Py_XDECREF(own);
    for (int part = 0; part < 5; part++)
        Py_XDECREF(parts[part]);
    return failed ? -1 : 0;
}

/* The state of a function: its closure's cells, defaults, keyword
 * defaults, attributes, code and globals (feed_code_and_globals), names
 * and annotations (feed_function_names); a class's
 * method's (as_method) without its cells (one may hold an instance of the
 * class, whose digest holds the class's state) nor its code (hashing every
 * method's costs more than the rest of a restore's checks: README). */
static int feed_function_state(struct hashed *all, PyObject *function,
                               PyObject *checked, int as_method)
{
    PyFunctionObject *f = (PyFunctionObject *)function;
    mark_function(function); /* its code and defaults, watched (memo_epoch) */
    if (note_reading(checked, function) < 0) /* and its other parts */
        return -1;
    /* Its attributes (a marker a decorator or a program set, __wrapped__,
     * __signature__), as a unit's operations will leave them. */
    PyObject *attrs = read_as(function);
    if (!attrs)
        return -1;
    attrs = attrs != function ? attrs : f->func_dict;
    if (attrs && (!PyDict_Check(attrs) || PyDict_GET_SIZE(attrs) == 0))
        attrs = NULL;
    /* Held from the start: a witness may run Python code that sets the
     * function's defaults, which would free the ones read. */
    PyObject *parts[4] = {Py_XNewRef(f->func_closure),
                          Py_XNewRef(f->func_defaults),
                          Py_XNewRef(f->func_kwdefaults), shown_attrs(attrs)};
    if (attrs && !parts[3]) {
        for (int part = 0; part < 3; part++)
            Py_XDECREF(parts[part]);
        return -1;
    }
    int nested = 0;
    /* A method's free variables' names: its __class__ cell (the
     * compiler's, for super()) holds its own class, which the class's
     * state does not hold again. */
    PyObject *free_names =
        as_method && parts[0] ? PyCode_GetFreevars((PyCodeObject *)f->func_code)
                              : NULL;
    int failed = (as_method && parts[0] && !free_names) ||
                 feed_code_and_globals(all, f, checked, !as_method) < 0 ||
                 feed_function_names(all, f, checked) < 0;
    for (int part = 0; part < 4 && !failed; part++) {
        PyObject *values = parts[part];
        if (!values) {
            /* (No mark for no attributes: the state of a function without
             * any is what it was before they counted.) */
            failed = part < 3 && put(all, '0', NULL, 0) < 0;
            continue;
        }
        if (part == 0 && PyTuple_Check(values)) {
            int64_t length = PyTuple_GET_SIZE(values);
            failed = put(all, 'L', &length, sizeof length) < 0;
            for (Py_ssize_t i = 0; i < length && !failed; i++) {
                PyObject *cell = PyTuple_GET_ITEM(values, i);
                if (free_names && i < PyTuple_GET_SIZE(free_names) &&
                    is(PyTuple_GET_ITEM(free_names, i), "__class__")) {
                    failed = put(all, 'e', NULL, 0) < 0;
                    continue;
                }
                /* A cell a unit's operations set: what they will leave. */
                PyObject *read = read_as(cell);
                if (!read) {
                    failed = 1;
                    break;
                }
                /* A method's cell, noted before it is read (no stamp covers
                 * it; an empty one too: a closure may fill it later). */
                if (as_method && read == cell && PyCell_Check(cell) &&
                    note_reading(checked, cell) < 0) {
                    failed = 1;
                    break;
                }
                PyObject *inside = read != cell         ? read
                                   : PyCell_Check(cell) ? PyCell_GET(cell)
                                                        : NULL;
                if (!inside) {
                    failed = put(all, 'E', NULL, 0) < 0;
                    continue;
                }
                /* As a module attribute's: a container by its items, an
                 * instance by its attributes (a settings object the
                 * function reads, which a program may change first).  A
                 * method's (a decorator's closure) as a container's item,
                 * an instance by its witness: its class's state is
                 * remembered, and what it holds is noted (no stamp covers
                 * a cell), never a class's state again. */
                Py_INCREF(inside);
                if (as_method) {
                    /* (a list in it: what holds the method not remembered) */
                    if (holds_mutable(inside, 1))
                        unwatched_containers++;
                    failed = put(all, 'v', NULL, 0) < 0 ||
                             feed_item(all, inside,
                                       container(inside) ? 0 : DIGEST_DEPTH,
                                       checked, &nested) < 0;
                } else if (python_instance(inside)) {
                    PyObject *held = digest_noting(inside, checked, &nested);
                    failed = !held || put(all, 'I', NULL, 0) < 0 ||
                             feed(all, held) < 0;
                    Py_XDECREF(held);
                } else
                    failed = put(all, 'v', NULL, 0) < 0 ||
                             (container(inside)
                                  ? feed_item(all, inside, 0, checked, &nested)
                                  : feed_item(all, inside, DIGEST_DEPTH,
                                              checked, &nested)) < 0;
                Py_DECREF(inside);
            }
        } else {
            /* The defaults tuple, keyword dict or attributes: their items,
             * containers among them by their own items (a mutable
             * default). */
            failed = put(all, part == 3 ? 'A' : 'D', NULL, 0) < 0 ||
                     feed_item(all, values, 0, checked, &nested) < 0;
            if (!failed && part < 3)
                failed = watch_defaults(values) < 0;
            if (!failed && part == 3 && attrs_hold_mutable(values))
                unwatched_containers++;
        }
    }
    for (int part = 0; part < 4; part++)
        Py_XDECREF(parts[part]);
    Py_XDECREF(free_names);
    return failed ? -1 : 0;
}

/* A function's state as feed_function_state() writes it: 16 bytes. */
static PyObject *function_state(PyObject *function, PyObject *checked,
                                int as_method)
{
    struct hashed all;
    hashed_init(&all);
    int failed = feed_function_state(&all, function, checked, as_method) < 0;
    return hashed_bytes(&all, failed);
}

/* The state of a class (None: a static one, which nothing can change) or
 * a function, else None. */
static PyObject *state_of(PyObject *value, PyObject *checked)
{
    int nested = 0; /* (a class's read is not remembered by stamp) */
    if (PyType_Check(value))
        return class_state((PyTypeObject *)value, checked, &nested);
    if (Py_TYPE(value) == &PyFunction_Type)
        return function_state(value, checked, 0);
    Py_RETURN_NONE;
}

/* A class's or function's digest from its witness `seen`: ("=state",
 * seen, state), or seen alone when it has no state. */
static PyObject *with_state(PyObject *value, PyObject *seen, PyObject *checked)
{
    PyObject *state = state_of(value, checked);
    PyObject *tag = state ? state_tag() : NULL;
    PyObject *out = !tag               ? NULL
                    : state == Py_None ? Py_NewRef(seen)
                                       : PyTuple_Pack(3, tag, seen, state);
    Py_XDECREF(state);
    return out;
}

/* ((name, shallow(value)), ...) of an instance's attributes; the cells
 * of closures among them noted in `checked` (may be NULL). */
static PyObject *shallow_attrs(PyObject *dict, PyObject *checked)
{
    PyObject *out = PyTuple_New(PyDict_GET_SIZE(dict));
    PyObject *key, *value;
    Py_ssize_t pos = 0, i = 0;
    while (out && PyDict_Next(dict, &pos, &key, &value)) {
        /* Held: shallow() may run Python code (a witness) that changes
         * the dict, freeing what it held. */
        Py_INCREF(key);
        Py_INCREF(value);
        PyObject *v = Py_TYPE(value) == &PyFunction_Type &&
                              note_cells(checked, value, 1) < 0
                          ? NULL
                          : shallow(value);
        PyObject *pair = v ? PyTuple_Pack(2, key, v) : NULL;
        Py_XDECREF(v);
        Py_DECREF(key);
        Py_DECREF(value);
        if (!pair || i >= PyTuple_GET_SIZE(out)) {
            Py_XDECREF(pair);
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i++, pair);
    }
    /* (one that shrank meanwhile leaves empty places: an error too) */
    if (out && i != PyTuple_GET_SIZE(out))
        Py_CLEAR(out);
    if (!out && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError,
                        "dict changed size during a digest");
    return out;
}

/* The instance's own dict, the one attribute lookups read (not what a
 * __dict__ property of its class answers: no Python code runs), or None
 * without one. */
static PyObject *own_attrs(PyObject *obj)
{
    /* None without a lookup where the type gives no __dict__ (slots, C
     * objects): an AttributeError raised and cleared costs more than the
     * rest of a digest. */
    if (Py_TYPE(obj)->tp_dictoffset == 0)
        Py_RETURN_NONE;
    PyObject *attrs = PyObject_GenericGetDict(obj, NULL);
    if (!attrs && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        attrs = Py_NewRef(Py_None);
    }
    return attrs;
}

/* ((name, shallow(value)), ...) of the values an instance keeps in the
 * slots its classes' __slots__ made (no __dict__ holds them; an unset one
 * as ("=unset",)), class by class in MRO order, each class's by name (a
 * class a restore made holds its descriptors in another order); None when
 * its classes made none.  Read by their member descriptors' C code: no
 * Python code runs. */
static PyObject *slot_values(PyObject *obj)
{
    PyObject *mro = Py_TYPE(obj)->tp_mro;
    PyObject *pairs = NULL;
    for (Py_ssize_t i = 0;
         mro && PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base) || !(base->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *ns = pycds_type_namespace(base);
        if (!ns) {
            if (PyErr_Occurred())
                goto fail;
            continue;
        }
        PyObject *key, *entry;
        Py_ssize_t pos = 0;
        PyObject *own = PyList_New(0);
        int failed = !own;
        while (!failed && PyDict_Next(ns, &pos, &key, &entry)) {
            if (!Py_IS_TYPE(entry, &PyMemberDescr_Type) ||
                PyDescr_TYPE(entry) != base)
                continue;
            PyMemberDef *member = ((PyMemberDescrObject *)entry)->d_member;
            if (member->type != PYCDS_SLOT_MEMBER)
                continue;
            PyObject *held = PyMember_GetOne((const char *)obj, member);
            PyObject *form = held ? shallow(held) : NULL;
            if (!held && PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
                form = Py_BuildValue("(s)", "=unset");
            }
            Py_XDECREF(held);
            failed = !form || append_pair(own, key, form) < 0;
            Py_XDECREF(form);
        }
        Py_DECREF(ns);
        /* (names are unique within a class: no two forms compared) */
        failed = failed || PyList_Sort(own) < 0 ||
                 (PyList_GET_SIZE(own) && !pairs && !(pairs = PyList_New(0))) ||
                 (pairs && PyList_SetSlice(pairs, PyList_GET_SIZE(pairs),
                                           PyList_GET_SIZE(pairs), own) < 0);
        Py_XDECREF(own);
        if (failed)
            goto fail;
    }
    if (!pairs)
        Py_RETURN_NONE;
    PyObject *out = PyList_AsTuple(pairs);
    Py_DECREF(pairs);
    return out;
fail:
    Py_XDECREF(pairs);
    return NULL;
}

/* Whether instances of `type` keep values in slots its classes'
 * __slots__ made (slot_values() has some to read). */
static int has_slot_values(PyTypeObject *type)
{
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0;
         mro && PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base) || !(base->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *names = ((PyHeapTypeObject *)base)->ht_slots;
        if (names && PyTuple_Check(names) && PyTuple_GET_SIZE(names))
            return 1;
    }
    return 0;
}

/* Whether value is an instance of a subclass of dict, list or set (its
 * items are its state too, besides its attributes). */
static int container_subclass(PyObject *value)
{
    return !container(value) && (PyDict_Check(value) || PyList_Check(value) ||
                                 PyAnySet_Check(value));
}

/* Whether value is a functools.partial itself, not a subclass's instance
 * (whose attributes may be Python code): what it calls with is its
 * state, a keyword a program changed first among it. */
static int exact_partial(PyObject *value)
{
    return strcmp(Py_TYPE(value)->tp_name, "functools.partial") == 0;
}

/* (func, args, keywords) of an exact partial, as a tuple's digest, and
 * its function's state as a method's (a default a program changed
 * first). */
static PyObject *partial_digest(PyObject *value, PyObject *checked, int *nested)
{
    PyObject *parts = PyTuple_New(3);
    enum name_index names[3] = {N_FUNC, N_ARGS, N_KEYWORDS};
    for (int i = 0; parts && i < 3; i++) {
        PyObject *part = get_attr(value, names[i]);
        if (!part)
            Py_CLEAR(parts);
        else
            PyTuple_SET_ITEM(parts, i, part);
    }
    PyObject *out = parts ? container_digest(parts, 1, checked, nested) : NULL;
    PyObject *func = out ? PyTuple_GET_ITEM(parts, 0) : NULL;
    if (func && Py_TYPE(func) == &PyFunction_Type) {
        /* (as a method's: what its cells hold by witness, so a partial
         * its closure holds, its own or another's, leads nowhere) */
        PyObject *state = function_state(func, checked, 1);
        Py_SETREF(out, state ? PyTuple_Pack(2, out, state) : NULL);
        Py_XDECREF(state);
    }
    Py_XDECREF(parts);
    return out;
}

/* digest(value); `checked` remembers witnesses of container items (NULL:
 * nothing); *nested is set when a container holds containers looked into. */
static PyObject *digest_noting(PyObject *value, PyObject *checked, int *nested)
{
    PyTypeObject *t = Py_TYPE(value);
    if (atom(value))
        return atom_digest(value);
    if (container(value)) {
        PyObject *read = read_as(value);
        return read ? container_digest(read, 1, checked, nested) : NULL;
    }
    PyObject *seen = witness_of(value);
    if (!seen || PyModule_CheckExact(value))
        return seen;
    PyObject *shown = proxied(value);
    if (shown && PyDict_CheckExact(shown)) {
        /* A read-only view of a registry: the dict's items, as a module
         * attribute's (a plugin a program registered first). */
        PyObject *read = read_as(shown);
        PyObject *items =
            read ? container_digest(read, 1, checked, nested) : NULL;
        PyObject *out = items ? PyTuple_Pack(2, seen, items) : NULL;
        Py_XDECREF(items);
        Py_DECREF(seen);
        return out;
    }
    if (PyType_Check(value) || t == &PyFunction_Type) {
        PyObject *out = with_state(value, seen, checked);
        Py_DECREF(seen);
        return out;
    }
    if (PyMethod_Check(value) && !PyModule_Check(PyMethod_GET_SELF(value))) {
        /* A method bound to an instance or class, kept as a module's
         * function (calendar.firstweekday is calendar.c.getfirstweekday):
         * what it answers follows that object's attributes, which are
         * digested as a read of the object itself would be. */
        PyObject *self = Py_NewRef(PyMethod_GET_SELF(value));
        /* (a method bound to a method by its witness: a chain of them
         * would recurse as deep as it is long) */
        PyObject *held = PyMethod_Check(self)
                             ? witness_of(self)
                             : digest_noting(self, checked, nested);
        Py_DECREF(self);
        PyObject *out = held ? PyTuple_Pack(2, seen, held) : NULL;
        Py_XDECREF(held);
        Py_DECREF(seen);
        return out;
    }
    PyObject *read = read_as(value);
    PyObject *attrs = !read           ? NULL
                      : read != value ? Py_NewRef(read)
                                      : own_attrs(value);
    PyObject *out = seen;
    if (!attrs)
        out = NULL;
    else if (PyDict_CheckExact(attrs) &&
             PyDict_GET_SIZE(attrs) <= DIGEST_ATTRIBUTES) {
        PyObject *pairs = shallow_attrs(attrs, checked);
        out = pairs ? Py_BuildValue("(ON)", seen, pairs) : NULL;
    }
    Py_XDECREF(attrs);
    if (out != seen)
        Py_DECREF(seen);
    /* Its slots' values, as its attributes' (a setting a program changed
     * first), and a dict's, list's or set's subclass's items (a registry). */
    PyObject *slots = out ? slot_values(value) : NULL;
    if (!slots)
        Py_CLEAR(out);
    else if (slots != Py_None)
        Py_SETREF(out, Py_BuildValue("(sOO)", "=slots", out, slots));
    Py_XDECREF(slots);
    if (out && container_subclass(value)) {
        PyObject *items = container_digest(value, 1, checked, nested);
        Py_SETREF(out,
                  items ? Py_BuildValue("(sOO)", "=items", out, items) : NULL);
        Py_XDECREF(items);
    }
    if (out && exact_partial(value)) {
        PyObject *held = partial_digest(value, checked, nested);
        Py_SETREF(out,
                  held ? Py_BuildValue("(sOO)", "=partial", out, held) : NULL);
        Py_XDECREF(held);
    }
    /* And its class's state: what it reads through its class (a default
     * a program set on the class, `HTTPConnection.debuglevel = 1`). */
    PyObject *state = out ? class_state(t, checked, nested) : NULL;
    if (state && state != Py_None) {
        PyObject *tag = class_tag();
        PyObject *both = tag ? PyTuple_Pack(3, tag, out, state) : NULL;
        Py_SETREF(out, both);
    } else if (!state)
        Py_CLEAR(out);
    Py_XDECREF(state);
    return out;
}

static PyObject *digest_of(PyObject *value, PyObject *checked)
{
    int nested = 0;
    return digest_noting(value, checked, &nested);
}

PyObject *pycds_digest(PyObject *module, PyObject *const *args,
                       Py_ssize_t nargs)
{
    (void)module;
    for (Py_ssize_t i = 1; i < nargs; i++)
        if (args[i] != Py_None && !PyDict_Check(args[i]))
            nargs = 0;
    if (nargs < 1 || nargs > 3)
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "digest(value, stand_ins=None, substitutes=None)");
    /* Kept and put back: a witness may run Python code that digests. */
    PyObject *outer_stand_ins = stand_ins, *outer_substitutes = substitutes;
    stand_ins = nargs >= 2 && args[1] != Py_None ? args[1] : NULL;
    substitutes = nargs >= 3 && args[2] != Py_None ? args[2] : NULL;
    PyObject *out = digest_of(args[0], NULL);
    stand_ins = outer_stand_ins;
    substitutes = outer_substitutes;
    return out;
}

/* What module `source` holds as `attribute` now (borrowed from the module's
 * namespace), NULL without an exception when it holds nothing. */
static PyObject *module_value(PyObject *modules, PyObject *source,
                              PyObject *attribute)
{
    if (!PyDict_Check(modules)) {
        pycds_raise(PYCDS_ERROR_TYPE, "sys.modules is no dict");
        return NULL;
    }
    PyObject *home = PyDict_GetItemWithError(modules, source);
    if (!home)
        return NULL;
    PyObject *attrs = PyModule_Check(home) ? PyModule_GetDict(home) : NULL;
    if (!attrs) {
        pycds_raise(PYCDS_ERROR_TYPE, "sys.modules[%R] is no module", source);
        return NULL;
    }
    return PyDict_GetItemWithError(attrs, attribute);
}

/* Whether module `source` has none of `names` (a tuple of str): 1, 0, or
 * -1 with an exception.  A module gone has none. */
static int none_there(PyObject *modules, PyObject *source, PyObject *names)
{
    if (!PyTuple_Check(names)) {
        pycds_raise(PYCDS_ERROR_TYPE, "absent names are a tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *value =
            module_value(modules, source, PyTuple_GET_ITEM(names, i));
        if (value)
            return 0;
        if (PyErr_Occurred())
            return -1;
    }
    return 1;
}

/* Python's `a != b`, or `a == b` (no identity shortcut: nan != nan). */
static int compare(PyObject *a, PyObject *b, int op)
{
    PyObject *result = PyObject_RichCompare(a, b, op);
    int truth = result ? PyObject_IsTrue(result) : -1;
    Py_XDECREF(result);
    return truth;
}

/* What compat.h's pycds_dict_stamp counts on 3.12 and 3.13. */
uint64_t pycds_dict_changes;
int pycds_dict_watcher = -1;

/* The digest of a container that cannot have changed since it was last
 * digested in this process, remembered in `checked` (MEMO_DIGEST): a
 * tuple's or frozenset's, a dict's while its stamp is the same (re's
 * tables, which every unit that compiled a pattern read, are digested
 * once); else digest_of() now, remembered. */
static PyObject *remembered_digest(PyObject *value, PyObject *checked)
{
    int is_dict = PyDict_CheckExact(value);
    PyObject *attrs = NULL; /* an instance's: what its digest reads */
    if (!is_dict && !PyTuple_CheckExact(value) &&
        !PyFrozenSet_CheckExact(value)) {
        if (atom(value) || container(value) || PyModule_CheckExact(value) ||
            PyType_Check(value) || PyFunction_Check(value) ||
            container_subclass(value) || exact_partial(value))
            return digest_of(value, checked);
        if (!(attrs = own_attrs(value)))
            return NULL;
        if (!PyDict_CheckExact(attrs) || !PYCDS_INSTANCE_DICT_STAMPS) {
            Py_DECREF(attrs);
            return digest_of(value, checked);
        }
    }
    uint64_t stamp = 0;
    int stamped =
        is_dict || attrs ? pycds_dict_stamp(attrs ? attrs : value, &stamp) : 0;
    /* An instance's dict replaced by another is another stamp too (the old
     * one, if freed, counted as changed where the stamp counts changes);
     * so is a change to its class or a base (its digest holds their state:
     * PyType_Modified gives the class a new tag when a base changes). */
    if (stamped < 0) {
        Py_XDECREF(attrs);
        return NULL;
    }
    if (attrs) {
        stamp = stamp * 1000003u ^ (uint64_t)(uintptr_t)attrs;
        PyTypeObject *type = Py_TYPE(value);
        /* And its metaclass's (its digest holds the metaclass's state,
         * whose changes renew no tag of the class's), where that is a
         * heap class; none to be had, or values in slots (no stamp):
         * digested every time. */
        PyTypeObject *meta = Py_TYPE(type);
        unsigned int tag = 1, meta_tag = 1;
        if (type->tp_flags & Py_TPFLAGS_HEAPTYPE)
            tag = pycds_type_stamp(type);
        if (tag && (meta->tp_flags & Py_TPFLAGS_HEAPTYPE))
            meta_tag = pycds_type_stamp(meta);
        if (!tag || !meta_tag || has_slot_values(type)) {
            Py_DECREF(attrs);
            return digest_of(value, checked);
        }
        stamp = (stamp * 1000003u ^ tag) * 1000003u ^ meta_tag;
    }
    Py_XDECREF(attrs); /* held by the instance (the stamp watches it) */
    PyObject *out = NULL;
    uint64_t was = 0;
    int found = memo_get(checked, MEMO_DIGEST, value, &out, &was);
    if (found < 0)
        return NULL;
    if (found && was == stamp)
        return out;
    Py_CLEAR(out);
    /* Stamped before: a change while it is digested (a witness may run
     * Python code) makes the next call digest it again. */
    struct memo_since since;
    if (memo_since_now(checked, &since) < 0)
        return NULL;
    int nested = 0;
    out = digest_noting(value, checked, &nested);
    /* (not one that holds containers: they have no stamp of their own) */
    if (out && !nested &&
        memo_put_since(checked, MEMO_DIGEST, value, out, stamp, &since) < 0)
        Py_CLEAR(out);
    return out;
}

/* Whether value is what a body read: a module's witness, a function's or
 * class's witness (remembered) and state, anything else's digest. */
static int digest_matches(PyObject *value, PyObject *expected,
                          PyObject *checked)
{
    if (PyModule_CheckExact(value))
        return matches(value, expected, checked);
    if (Py_TYPE(value) == &PyFunction_Type || PyType_Check(value)) {
        int stated = PyTuple_GET_SIZE(expected) == 3 &&
                     is(PyTuple_GET_ITEM(expected, 0), "=state");
        int same = matches(
            value, stated ? PyTuple_GET_ITEM(expected, 1) : expected, checked);
        if (same != 1)
            return same;
        PyObject *state = state_of(value, checked);
        if (!state)
            return -1;
        same = stated ? compare(state, PyTuple_GET_ITEM(expected, 2), Py_EQ)
                      : state == Py_None;
        Py_DECREF(state);
        return same;
    }
    PyObject *now = remembered_digest(value, checked);
    int equal = now ? compare(now, expected, Py_EQ) : -1;
    Py_XDECREF(now);
    return equal;
}

static PyObject *check_reads(PyObject *const *args);

PyObject *pycds_check_reads(PyObject *module, PyObject *const *args,
                            Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyList_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyDict_Check(args[2]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "check_reads(bindings, reads, checked)");
    /* A restore's own reads, with no stand-ins or substitutes of a digest
     * whose witness ran Python code that imported. */
    PyObject *outer_stand_ins = stand_ins, *outer_substitutes = substitutes;
    stand_ins = substitutes = NULL;
    PyObject *out = check_reads(args);
    stand_ins = outer_stand_ins;
    substitutes = outer_substitutes;
    return out;
}

static PyObject *check_reads(PyObject *const *args)
{
    PyObject *modules = sys_modules();
    if (!modules)
        return NULL;
    for (int kind = 0; kind < 2; kind++) {
        PyObject *entries = args[kind];
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
            PyObject *entry = PyList_GET_ITEM(entries, i);
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3 ||
                !PyTuple_Check(PyTuple_GET_ITEM(entry, 2)) ||
                PyTuple_GET_SIZE(PyTuple_GET_ITEM(entry, 2)) < 2)
                return pycds_raise(PYCDS_ERROR_TYPE,
                                   "a read is (module, attribute, digest)");
            PyObject *expected = PyTuple_GET_ITEM(entry, 2);
            if (kind == 1 && is(PyTuple_GET_ITEM(expected, 0), "=absent")) {
                int none = none_there(modules, PyTuple_GET_ITEM(entry, 0),
                                      PyTuple_GET_ITEM(expected, 1));
                if (none < 0)
                    return NULL;
                if (!none)
                    return Py_BuildValue("(in)", kind, i);
                continue;
            }
            PyObject *value = module_value(modules, PyTuple_GET_ITEM(entry, 0),
                                           PyTuple_GET_ITEM(entry, 1));
            int same;
            /* Held: a witness may run Python code that drops it. */
            Py_XINCREF(value);
            if (!value)
                same = PyErr_Occurred() ? -1 : 0;
            else if (kind == 0 && atom(value)) {
                PyObject *now = atom_digest(value);
                same = now ? compare(now, expected, Py_EQ) : -1;
                Py_XDECREF(now);
            } else if (kind == 0)
                same = matches(value, expected, args[2]);
            else
                same = digest_matches(value, expected, args[2]);
            Py_XDECREF(value);
            if (same < 0)
                return NULL;
            if (!same)
                return Py_BuildValue("(in)", kind, i);
        }
    }
    Py_RETURN_NONE;
}

/* ----------------------------------------------------- reads by hash */

/* XXH3-64 of a digest as feed() writes it: equal digests, equal numbers. */
static int digest_hash64(PyObject *digest, uint64_t *out)
{
    struct hashed h;
    hashed_init(&h);
    int failed = feed(&h, digest) < 0;
    if (!failed)
        *out = XXH3_64bits(h.bytes, h.used);
    hashed_free(&h);
    return failed ? -1 : 0;
}

PyObject *pycds_digest_hash(PyObject *module, PyObject *digest)
{
    (void)module;
    uint64_t hash;
    return digest_hash64(digest, &hash) < 0 ? NULL
                                            : PyLong_FromUnsignedLongLong(hash);
}

/* Whether value's digest is fixed for as long as it is the same object:
 * a plain value, a static type, a C function of a module or static type
 * (their witnesses read only what cannot be set). */
static int steady(PyObject *value)
{
    if (atom(value))
        return 1;
    if (PyType_Check(value))
        return !(((PyTypeObject *)value)->tp_flags & Py_TPFLAGS_HEAPTYPE);
    if (!PyCFunction_CheckExact(value))
        return 0;
    PyObject *self = PyCFunction_GET_SELF(value);
    return !self || PyModule_CheckExact(self) ||
           (PyType_Check(self) &&
            !(((PyTypeObject *)self)->tp_flags & Py_TPFLAGS_HEAPTYPE));
}

/* What digest() says of value now, as a read's digest_matches() compares
 * it: a module by its witness, a function or class by witness and state,
 * anything else by its (remembered) digest. */
static PyObject *read_digest(PyObject *value, PyObject *checked)
{
    if (!PyModule_CheckExact(value) && !PyType_Check(value) &&
        Py_TYPE(value) != &PyFunction_Type)
        return remembered_digest(value, checked);
    PyObject *seen = remembered_witness(value, checked);
    if (!seen || PyModule_CheckExact(value))
        return seen;
    PyObject *out = with_state(value, seen, checked);
    Py_DECREF(seen);
    return out;
}

/* The hash `checked` remembers for obj: 1 and *out when there is one, 0
 * when not, -1 on error. */
static int hash_remembered(PyObject *obj, PyObject *checked, uint64_t *out)
{
    PyObject *unused = NULL;
    int found = memo_get(checked, MEMO_HASH, obj, &unused, out);
    Py_XDECREF(unused);
    return found;
}

/* digest_hash64(digest), remembered for a digest something else holds too
 * (a container's, remembered while its stamp holds: many units read
 * logging's tables).  A digest is a tuple of plain values: the same
 * object, the same hash. */
static int remembered_hash(PyObject *digest, PyObject *checked, uint64_t *out)
{
    if (Py_REFCNT(digest) < 2 || !PyTuple_CheckExact(digest))
        return digest_hash64(digest, out);
    int known = hash_remembered(digest, checked, out);
    if (known != 0)
        return known < 0 ? -1 : 0;
    if (digest_hash64(digest, out) < 0)
        return -1;
    return memo_put(checked, MEMO_HASH, digest, NULL, *out);
}

/* The hash of read_digest(value), a steady value's remembered. */
static int read_hash(PyObject *value, PyObject *checked, uint64_t *out)
{
    int keep = steady(value);
    if (keep) {
        int known = hash_remembered(value, checked, out);
        if (known != 0)
            return known < 0 ? -1 : 0;
    }
    PyObject *digest = read_digest(value, checked);
    int failed = !digest || remembered_hash(digest, checked, out) < 0;
    Py_XDECREF(digest);
    if (failed)
        return -1;
    return keep ? memo_put(checked, MEMO_HASH, value, NULL, *out) : 0;
}

/* What `value.name` is when plain Python takes it from the instance's own
 * dict: a new reference, or NULL (with an exception, or none when it
 * would look elsewhere: a __getattribute__ of Python, a data descriptor of
 * the class for that name, or no such key; __getattr__ is asked only when
 * the dict has none).  The dict itself, not what a __dict__ property
 * answers, and no Python code runs. */
static PyObject *instance_attribute(PyObject *value, PyObject *name)
{
    PyTypeObject *t = Py_TYPE(value);
    if (!python_instance(value) || t->tp_dictoffset == 0)
        return NULL;
    PyObject *getattribute = _PyType_Lookup(t, name_of(N_GETATTRIBUTE));
    if (!getattribute || !Py_IS_TYPE(getattribute, &PyWrapperDescr_Type) ||
        ((PyWrapperDescrObject *)getattribute)->d_wrapped !=
            (void *)PyObject_GenericGetAttr)
        return NULL;
    PyObject *found = _PyType_Lookup(t, name);
    if (found && Py_TYPE(found)->tp_descr_set)
        return NULL;
    PyObject *attrs = PyObject_GenericGetDict(value, NULL);
    if (!attrs)
        return NULL;
    PyObject *held = PyDict_Check(attrs)
                         ? Py_XNewRef(PyDict_GetItemWithError(attrs, name))
                         : NULL;
    Py_DECREF(attrs);
    return held;
}

/* What a hashed read names, a new reference, or NULL (with an exception,
 * or none when absent): module `source`'s attribute, or with dots in
 * `name` ("Token.Text.Whitespace") the attribute of the attribute, each
 * taken from an instance's own dict (instance_attribute: the planner's
 * dotted reads, of an instance that holds another, which its digest sees
 * only by type). */
static PyObject *read_value(PyObject *modules, PyObject *source, PyObject *name)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(name);
    Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, length, 1);
    if (dot == -2)
        return NULL;
    if (dot < 0)
        return Py_XNewRef(module_value(modules, source, name));
    PyObject *head = PyUnicode_Substring(name, 0, dot);
    PyObject *value =
        head ? Py_XNewRef(module_value(modules, source, head)) : NULL;
    Py_XDECREF(head);
    while (value && dot >= 0) {
        Py_ssize_t start = dot + 1;
        dot = PyUnicode_FindChar(name, '.', start, length, 1);
        PyObject *part =
            dot == -2
                ? NULL
                : PyUnicode_Substring(name, start, dot < 0 ? length : dot);
        PyObject *inner = part ? instance_attribute(value, part) : NULL;
        Py_XDECREF(part);
        Py_SETREF(value, inner);
    }
    return value;
}

static PyObject *check_hashed_reads(PyObject *groups, PyObject *checked)
{
    PyObject *modules = sys_modules();
    if (!modules)
        return NULL;
    for (Py_ssize_t g = 0; g < PyList_GET_SIZE(groups); g++) {
        PyObject *group = PyList_GET_ITEM(groups, g);
        PyObject *names = PyTuple_Check(group) && PyTuple_GET_SIZE(group) == 3
                              ? PyTuple_GET_ITEM(group, 1)
                              : NULL;
        PyObject *hashes = names ? PyTuple_GET_ITEM(group, 2) : NULL;
        if (!names || !PyUnicode_Check(PyTuple_GET_ITEM(group, 0)) ||
            !PyTuple_Check(names) || !PyBytes_Check(hashes) ||
            PyBytes_GET_SIZE(hashes) != 8 * PyTuple_GET_SIZE(names))
            return pycds_raise(PYCDS_ERROR_TYPE,
                               "hashed reads are (module, names, hashes)");
        PyObject *source = PyTuple_GET_ITEM(group, 0);
        /* Held: a digest may run Python code that drops the group's list. */
        Py_INCREF(group);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
            PyObject *name = PyTuple_GET_ITEM(names, i);
            if (!PyUnicode_Check(name)) {
                Py_DECREF(group);
                return pycds_raise(PYCDS_ERROR_TYPE, "a read's name is no str");
            }
            /* Held: a digest may run Python code that drops it. */
            PyObject *value = read_value(modules, source, name);
            uint64_t now = 0, expected;
            /* (little-endian: this platform's order) */
            memcpy(&expected, PyBytes_AS_STRING(hashes) + 8 * i, 8);
            int failed = value ? read_hash(value, checked, &now) : 0;
            Py_XDECREF(value);
            if (failed || (!value && PyErr_Occurred())) {
                Py_DECREF(group);
                return NULL;
            }
            if (!value || now != expected) {
                Py_DECREF(group);
                return Py_BuildValue("(nn)", g, i);
            }
        }
        Py_DECREF(group);
    }
    Py_RETURN_NONE;
}

PyObject *pycds_check_hashed_reads(PyObject *module, PyObject *const *args,
                                   Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyDict_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "check_hashed_reads(groups, checked)");
    PyObject *outer_stand_ins = stand_ins, *outer_substitutes = substitutes;
    stand_ins = substitutes = NULL;
    PyObject *out = check_hashed_reads(args[0], args[1]);
    stand_ins = outer_stand_ins;
    substitutes = outer_substitutes;
    return out;
}

PyObject *pycds_read_value(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "read_value(module, name, default)");
    PyObject *modules = sys_modules();
    if (!modules)
        return NULL;
    PyObject *value = read_value(modules, args[0], args[1]);
    return value || PyErr_Occurred() ? value : Py_NewRef(args[2]);
}

PyObject *pycds_check_same(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyList_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE, "check_same(same, memo)");
    PyObject *same = args[0], *memo = args[1];
    PyObject *modules = sys_modules();
    if (!modules)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(same); i++) {
        PyObject *entry = PyList_GET_ITEM(same, i);
        Py_ssize_t at = -1;
        if (PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 3 &&
            PyUnicode_Check(PyTuple_GET_ITEM(entry, 0)) &&
            PyUnicode_Check(PyTuple_GET_ITEM(entry, 1)) &&
            PyLong_Check(PyTuple_GET_ITEM(entry, 2)))
            at = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 2));
        if (at < 0 || at >= PyList_GET_SIZE(memo)) {
            PyErr_Clear();
            return pycds_raise(PYCDS_ERROR_TYPE,
                               "same reads are (module, name, memo index)");
        }
        PyObject *value = read_value(modules, PyTuple_GET_ITEM(entry, 0),
                                     PyTuple_GET_ITEM(entry, 1));
        if (!value && PyErr_Occurred())
            return NULL;
        int moved = value != PyList_GET_ITEM(memo, at);
        Py_XDECREF(value);
        if (moved)
            return PyLong_FromSsize_t(i);
    }
    Py_RETURN_NONE;
}
