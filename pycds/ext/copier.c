/*
 * copier.c - deep copies of code objects and their constants into an
 * archive being written.
 *
 * Each object is copied as the raw memory the interpreter would have made
 * (as marshal would build it), at its final address in the writer's arena,
 * then fixed: reference count made permanent, hash caches cleared, caches of
 * code objects reset, and every pointer either redirected to another archived
 * object (with a relocation) or marked as a runtime type or singleton.
 *
 * Equal immutable constants are stored once per module.  Across modules only
 * interned strings are shared, and without making modules depend on each
 * other: an interned string is resolved at load by its value (the share
 * side interns it, reading the characters of the copy in the other module,
 * whose checksum it checks first), so the other module's objects need not
 * be relocated.  A module's objects are thus relocated alone, and a program
 * that imports one module of a large archive pays for that module only.
 * Code objects and tuples holding frozensets are never shared: both need
 * per-module work at load.
 *
 * A module is copied in two passes.  The first copies everything its module
 * code and class bodies (the run-once code, layout.h) refer to that anything
 * else may use: names, constants, the code of functions.  The second copies
 * the run-once code objects and what only they hold, so that these come
 * last, together, and their pages can be given back once the body ran.
 * Strings are never run-once: an interned one may become the interpreter's
 * own, and a string of another module is read by value from the file.
 */
#include "copier.h"
#include "error.h"

#include <string.h>

#include "os/array.h"

#include "layout.h"

/* Append an address inside the arena to list (an os_array of void *). */
static int address_list_push(os_array *list, void *item)
{
    if (!os_array_append(list, &item, 1)) {
        pycds_raise(PYCDS_ERROR_MEMORY, NULL);
        return -1;
    }
    return 0;
}

/* The sharing memo: one dict per kind of constant, key -> (address, module).
 * Keys: str, bytes and int objects themselves (exact types, so equality is
 * identity of value); the raw bytes of floats and complexes (so that 0.0 and
 * -0.0 stay apart); the archived item addresses of tuples. */
enum memo_kind {
    MEMO_STR,
    MEMO_BYTES,
    MEMO_INT,
    MEMO_FLOAT,
    MEMO_TUPLE,
    MEMO_COUNT
};

struct pycds_copier {
    cds_writer *writer;
    uint32_t module;
    PyObject *memo[MEMO_COUNT];
    PyObject *added; /* [(kind, key)] the current module put in the memo */
    os_array codes;  /* void *: code objects of the current module */
    os_array frozen; /* void *: slots that receive a frozenset at load */
    os_array once;   /* void *: run-once objects of the current module */
    PyObject *early; /* {address of object: reference} from the first pass */
    int second_pass; /* copying the run-once objects */
    pycds_copy_stats stats;
};

pycds_copier *pycds_copier_new(cds_writer *writer)
{
    pycds_copier *c = PyMem_Calloc(1, sizeof *c);
    if (!c)
        return (pycds_copier *)pycds_raise(PYCDS_ERROR_MEMORY, NULL);
    c->writer = writer;
    c->codes = (os_array)OS_ARRAY_INIT(void *);
    c->frozen = (os_array)OS_ARRAY_INIT(void *);
    c->once = (os_array)OS_ARRAY_INIT(void *);
    if (!(c->early = PyDict_New()))
        goto error;
    for (int i = 0; i < MEMO_COUNT; i++)
        if (!(c->memo[i] = PyDict_New()))
            goto error;
    if (!(c->added = PyList_New(0)))
        goto error;
    return c;
error:
    pycds_copier_free(c);
    return NULL;
}

void pycds_copier_free(pycds_copier *c)
{
    if (!c)
        return;
    for (int i = 0; i < MEMO_COUNT; i++)
        Py_XDECREF(c->memo[i]);
    Py_XDECREF(c->added);
    Py_XDECREF(c->early);
    os_array_free(&c->codes);
    os_array_free(&c->frozen);
    os_array_free(&c->once);
    PyMem_Free(c);
}

pycds_copy_stats pycds_copier_stats(const pycds_copier *c)
{
    return c->stats;
}

static int unsupported(const char *format, PyObject *obj)
{
    return pycds_fail(PYCDS_ERROR_UNSUPPORTED, format, Py_TYPE(obj)->tp_name);
}

static int check(cds_status status)
{
    if (status == CDS_OK)
        return 0;
    pycds_raise_status(PYCDS_ERROR_RUNTIME, status, "archive writer");
    return -1;
}

/* Allocate an object of `size` bytes (plus a GC header when gc) and copy
 * `size` bytes of src into it; ob_refcnt made permanent, ob_type relocated. */
static PyObject *alloc_object(pycds_copier *c, PyObject *src, size_t size,
                              int gc, enum pycds_type type)
{
    size_t head = gc ? sizeof(PyGC_Head) : 0;
    char *memory = cds_writer_alloc(c->writer, head + size, 8);
    if (!memory) {
        pycds_raise(PYCDS_ERROR_MEMORY, "pycds archive arena is full");
        return NULL;
    }
    /* A zeroed GC header marks the object untracked: the collector never
     * links it into a generation, and only reads it. */
    PyObject *copy = (PyObject *)(memory + head);
    memcpy(copy, src, size);
    copy->ob_refcnt = PYCDS_ARCHIVED_REFCNT;
    if (c->second_pass) {
        copy->ob_refcnt = PYCDS_ONCE_REFCNT;
        if (address_list_push(&c->once, copy) < 0)
            return NULL;
        c->stats.once++;
    }
    copy->ob_type = NULL;
    if (check(cds_writer_add_reloc(c->writer, &copy->ob_type, CDS_RELOC_TYPE,
                                   type)) < 0)
        return NULL;
    c->stats.objects++;
    return copy;
}

/* 1 and *address when an equal object can be reused: one of this module's,
 * or another module's when `across_modules` (interned strings only). */
static int memo_find(pycds_copier *c, enum memo_kind kind, PyObject *key,
                     PyObject **address, int across_modules)
{
    PyObject *entry = PyDict_GetItemWithError(c->memo[kind], key);
    if (!entry)
        return PyErr_Occurred() ? -1 : 0;
    uint32_t owner =
        (uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(entry, 1));
    if (owner != c->module && !across_modules)
        return 0; /* copied again for this module (memo_add takes it over) */
    *address = PyLong_AsVoidPtr(PyTuple_GET_ITEM(entry, 0));
    c->stats.shared++;
    return 1;
}

static int memo_add(pycds_copier *c, enum memo_kind kind, PyObject *key,
                    PyObject *address)
{
    PyObject *entry =
        Py_BuildValue("(NI)", PyLong_FromVoidPtr(address), (unsigned)c->module);
    PyObject *undo = Py_BuildValue("(iO)", (int)kind, key);
    int result = -1;
    if (entry && undo && PyDict_SetItem(c->memo[kind], key, entry) == 0 &&
        PyList_Append(c->added, undo) == 0)
        result = 0;
    Py_XDECREF(entry);
    Py_XDECREF(undo);
    return result;
}

/* What only the module being copied needs. */
static void forget_module(pycds_copier *c)
{
    c->codes.count = c->frozen.count = c->once.count = 0;
    c->second_pass = 0;
    PyDict_Clear(c->early);
}

void pycds_copier_rollback(pycds_copier *c)
{
    pycds_saved_error saved = pycds_error_save();
    Py_ssize_t n = PyList_GET_SIZE(c->added);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *undo = PyList_GET_ITEM(c->added, i);
        int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(undo, 0));
        if (PyDict_DelItem(c->memo[kind], PyTuple_GET_ITEM(undo, 1)) < 0)
            PyErr_Clear();
    }
    PyList_SetSlice(c->added, 0, n, NULL);
    forget_module(c);
    pycds_error_restore(saved);
}

void pycds_copier_commit(pycds_copier *c)
{
    PyList_SetSlice(c->added, 0, PyList_GET_SIZE(c->added), NULL);
    forget_module(c);
}

/* ------------------------------------------------------------ emitting */

/* What a slot will refer to: a runtime singleton, or an archived object. */
typedef struct reference {
    PyObject *address; /* archived copy, or NULL for a singleton */
    int singleton;     /* singleton number, or -1 */
    int intern;        /* the slot must be interned at load */
    int frozenset;     /* address is a frozenset's element tuple */
    int has_frozenset; /* the object holds a frozenset somewhere */
} reference;

static int copy_object(pycds_copier *c, PyObject *obj, reference *ref);

/* The singleton number of obj, or -1 when obj is not one. */
static int singleton_of(PyObject *obj)
{
    if (obj == Py_None)
        return PYCDS_SINGLETON_NONE;
    if (obj == Py_True)
        return PYCDS_SINGLETON_TRUE;
    if (obj == Py_False)
        return PYCDS_SINGLETON_FALSE;
    if (obj == Py_Ellipsis)
        return PYCDS_SINGLETON_ELLIPSIS;
    if (PyUnicode_CheckExact(obj)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(obj);
        if (n == 0)
            return PYCDS_SINGLETON_EMPTY_STR;
        if (n == 1 && PyUnicode_KIND(obj) == PyUnicode_1BYTE_KIND) {
            /* Keep the identity plain unmarshalling gives: one-character
             * latin-1 strings are the interpreter's shared ones. */
            Py_UCS4 ch = PyUnicode_READ_CHAR(obj, 0);
            if (pycds_str_is_shared_char(obj, ch))
                return PYCDS_SINGLETON_LATIN1 + (int)ch;
        }
        return -1;
    }
    if (PyTuple_CheckExact(obj) && PyTuple_GET_SIZE(obj) == 0)
        return PYCDS_SINGLETON_EMPTY_TUPLE;
    if (PyBytes_CheckExact(obj) && PyBytes_GET_SIZE(obj) == 0)
        return PYCDS_SINGLETON_EMPTY_BYTES;
    if (PyLong_CheckExact(obj)) {
        int overflow;
        long v = PyLong_AsLongAndOverflow(obj, &overflow);
        if (!overflow && v >= PYCDS_SMALL_INT_MIN && v <= PYCDS_SMALL_INT_MAX)
            return PYCDS_SINGLETON_SMALL_INTS + (int)(v - PYCDS_SMALL_INT_MIN);
    }
    return -1;
}

/*
 * Decide what a reference to obj becomes, copying obj if needed.  Strings
 * interned in the dumping process are interned again at load, as the
 * interpreter interns code names and identifier-like constants.
 */
static int prepare(pycds_copier *c, PyObject *obj, reference *ref)
{
    if (c->second_pass) {
        /* What the first pass copied, as it copied it. */
        PyObject *key = PyLong_FromVoidPtr(obj);
        if (!key)
            return -1;
        PyObject *known = PyDict_GetItemWithError(c->early, key);
        Py_DECREF(key);
        if (known) {
            memcpy(ref, PyBytes_AS_STRING(known), sizeof *ref);
            return 0;
        }
        if (PyErr_Occurred())
            return -1;
    }
    memset(ref, 0, sizeof *ref);
    ref->singleton = singleton_of(obj);
    if (ref->singleton >= 0)
        return 0;
    if (copy_object(c, obj, ref) < 0)
        return -1;
    ref->intern = PyUnicode_CheckExact(obj) && PyUnicode_CHECK_INTERNED(obj);
    return 0;
}

/* Write a prepared reference into *slot (inside the arena), with the
 * relocation that fixes it at load. */
static int store(pycds_copier *c, PyObject **slot, const reference *ref)
{
    if (ref->singleton >= 0) {
        *slot = NULL;
        return check(cds_writer_add_reloc(c->writer, slot, CDS_RELOC_SINGLETON,
                                          (uint32_t)ref->singleton));
    }
    *slot = ref->address;
    if (ref->frozenset && address_list_push(&c->frozen, slot) < 0)
        return -1;
    return check(cds_writer_add_reloc(
        c->writer, slot, ref->intern ? CDS_RELOC_INTERN : CDS_RELOC_INTERNAL,
        0));
}

static int emit(pycds_copier *c, PyObject **slot, PyObject *obj)
{
    reference ref;
    if (prepare(c, obj, &ref) < 0)
        return -1;
    return store(c, slot, &ref);
}

/* ------------------------------------------------------------- copying */

/*
 * Copy an object that holds no references (str, bytes, int, float,
 * complex): an equal one from the memo, found under `key`, or a copy of its
 * `size` bytes, fixed by `fix` when given.
 */
static int copy_flat(pycds_copier *c, PyObject *obj, enum memo_kind kind,
                     PyObject *key, size_t size, enum pycds_type type,
                     int across_modules, int (*fix)(pycds_copier *, PyObject *),
                     PyObject **out)
{
    int found = memo_find(c, kind, key, out, across_modules);
    if (found)
        return found < 0 ? -1 : 0;
    PyObject *copy = alloc_object(c, obj, size, 0, type);
    if (!copy)
        return -1;
    if (fix && fix(c, copy) < 0)
        return -1;
    *out = copy;
    return memo_add(c, kind, key, copy);
}

/* Reset what a copied str must not carry over; point its shared wide form
 * (3.11) back at its own characters. */
static int fix_str(pycds_copier *c, PyObject *copy)
{
    pycds_str_reset(copy);
    void **wide = pycds_str_set_shared_wchar(copy);
    if (!wide)
        return 0;
    return check(cds_writer_add_reloc(c->writer, wide, CDS_RELOC_INTERNAL, 0));
}

static int fix_bytes(pycds_copier *c, PyObject *copy)
{
    (void)c;
    pycds_bytes_reset(copy);
    return 0;
}

static int copy_str(pycds_copier *c, PyObject *s, PyObject **out)
{
    if (c->second_pass) /* a part of run-once code the first pass missed */
        return unsupported("%s only run-once code holds", s);
    if (!pycds_str_copyable(s))
        return unsupported("non-compact %s", s);
    /* Interned strings are referred to by INTERN relocations, resolved by
     * value at load: those may point into another module. */
    return copy_flat(c, s, MEMO_STR, s, pycds_str_size(s), PYCDS_TYPE_STR,
                     PyUnicode_CHECK_INTERNED(s), fix_str, out);
}

/* float and complex: keyed by their raw bytes, with the type in front. */
static int copy_number(pycds_copier *c, PyObject *v, PyObject **out)
{
    int is_float = PyFloat_CheckExact(v);
    size_t size = is_float ? sizeof(PyFloatObject) : sizeof(PyComplexObject);
    size_t value = offsetof(PyFloatObject, ob_fval);
    char raw[1 + sizeof(Py_complex)];
    raw[0] = (char)is_float;
    memcpy(raw + 1, (char *)v + value, size - value);
    PyObject *key =
        PyBytes_FromStringAndSize(raw, (Py_ssize_t)(1 + size - value));
    if (!key)
        return -1;
    int result = copy_flat(c, v, MEMO_FLOAT, key, size,
                           is_float ? PYCDS_TYPE_FLOAT : PYCDS_TYPE_COMPLEX, 0,
                           NULL, out);
    Py_DECREF(key);
    return result;
}

/*
 * Copy a tuple (or a frozenset's elements, as a tuple).  Items are copied
 * first, so that equal tuples can be recognised by the archived addresses of
 * their items; tuples holding a frozenset are not shared.
 */
static int copy_tuple(pycds_copier *c, PyObject *t, reference *ref)
{
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    reference *items = PyMem_Calloc((size_t)n ? (size_t)n : 1, sizeof *items);
    PyObject *key =
        PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(void *));
    int result = -1;
    if (!items || !key) {
        pycds_raise(PYCDS_ERROR_MEMORY, NULL);
        goto done;
    }
    uintptr_t *addresses = (uintptr_t *)PyBytes_AS_STRING(key);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (prepare(c, PyTuple_GET_ITEM(t, i), &items[i]) < 0)
            goto done;
        addresses[i] = items[i].singleton >= 0
                           ? (uintptr_t)items[i].singleton + 1
                           : (uintptr_t)items[i].address;
        ref->has_frozenset |= items[i].frozenset | items[i].has_frozenset;
    }
    if (!ref->has_frozenset) {
        int found = memo_find(c, MEMO_TUPLE, key, &ref->address, 0);
        if (found) {
            result = found < 0 ? -1 : 0;
            goto done;
        }
    }
    size_t size =
        offsetof(PyTupleObject, ob_item) + (size_t)n * sizeof(PyObject *);
    PyTupleObject *copy =
        (PyTupleObject *)alloc_object(c, t, size, 1, PYCDS_TYPE_TUPLE);
    if (!copy)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++)
        if (store(c, &copy->ob_item[i], &items[i]) < 0)
            goto done;
    ref->address = (PyObject *)copy;
    result =
        ref->has_frozenset ? 0 : memo_add(c, MEMO_TUPLE, key, ref->address);
done:
    PyMem_Free(items);
    Py_XDECREF(key);
    return result;
}

/* A frozenset is archived as the tuple of its elements, and the slot that
 * refers to it is listed so that a real frozenset replaces it at load. */
static int copy_frozenset(pycds_copier *c, PyObject *fs, reference *ref)
{
    PyObject *elements = PySequence_Tuple(fs);
    if (!elements)
        return -1;
    int result = 0;
    for (Py_ssize_t i = 0; result == 0 && i < PyTuple_GET_SIZE(elements); i++)
        if (PyFrozenSet_Check(PyTuple_GET_ITEM(elements, i)))
            result = unsupported("%s nested in a frozenset constant",
                                 PyTuple_GET_ITEM(elements, i));
    if (result == 0)
        result = copy_tuple(c, elements, ref);
    Py_DECREF(elements);
    ref->frozenset = 1;
    ref->has_frozenset = 1;
    return result;
}

static int copy_code(pycds_copier *c, PyCodeObject *co, PyObject **out)
{
    if (!pycds_code_is_fresh(co))
        return unsupported("%s object that has run or is instrumented",
                           (PyObject *)co);
    PyCodeObject *copy = (PyCodeObject *)alloc_object(
        c, (PyObject *)co, pycds_code_size(co), 0, PYCDS_TYPE_CODE);
    if (!copy)
        return -1;
    pycds_code_reset(copy);
    if (address_list_push(&c->codes, copy) < 0)
        return -1;
    c->stats.codes++;
    struct {
        PyObject **slot;
        PyObject *value;
    } fields[] = {
        {&copy->co_consts, co->co_consts},
        {&copy->co_names, co->co_names},
        {&copy->co_exceptiontable, co->co_exceptiontable},
        {&copy->co_localsplusnames, co->co_localsplusnames},
        {&copy->co_localspluskinds, co->co_localspluskinds},
        {&copy->co_filename, co->co_filename},
        {&copy->co_name, co->co_name},
        {&copy->co_qualname, co->co_qualname},
        {&copy->co_linetable, co->co_linetable},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (emit(c, fields[i].slot, fields[i].value) < 0)
            return -1;
    *out = (PyObject *)copy;
    return 0;
}

static int copy_object(pycds_copier *c, PyObject *obj, reference *ref)
{
    if (Py_EnterRecursiveCall(" while archiving a constant"))
        return -1;
    int result;
    if (PyUnicode_CheckExact(obj))
        result = copy_str(c, obj, &ref->address);
    else if (PyBytes_CheckExact(obj))
        result = copy_flat(c, obj, MEMO_BYTES, obj, pycds_bytes_size(obj),
                           PYCDS_TYPE_BYTES, 0, fix_bytes, &ref->address);
    else if (PyLong_CheckExact(obj))
        result = copy_flat(c, obj, MEMO_INT, obj, pycds_long_size(obj),
                           PYCDS_TYPE_INT, 0, NULL, &ref->address);
    else if (PyFloat_CheckExact(obj) || PyComplex_CheckExact(obj))
        result = copy_number(c, obj, &ref->address);
    else if (PyTuple_CheckExact(obj))
        result = copy_tuple(c, obj, ref);
    else if (PyFrozenSet_CheckExact(obj))
        result = copy_frozenset(c, obj, ref);
    else if (PyCode_Check(obj))
        result = copy_code(c, (PyCodeObject *)obj, &ref->address);
    else
        result = unsupported("constant of type %s", obj);
    Py_LeaveRecursiveCall();
    return result;
}

/* Code the module's body runs once: its own, or a class body in it
 * (functions, lambdas and generator expressions have CO_NEWLOCALS, and may
 * run again). */
static int runs_once(PyObject *obj)
{
    return PyCode_Check(obj) &&
           !(((PyCodeObject *)obj)->co_flags & CO_NEWLOCALS);
}

/* Copy obj in the first pass, and remember how it was referred to. */
static int copy_early(pycds_copier *c, PyObject *obj)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (!key)
        return -1;
    int result = PyDict_Contains(c->early, key);
    if (result == 0) {
        reference ref;
        PyObject *value = NULL;
        result = -1;
        if (prepare(c, obj, &ref) == 0 &&
            (value = PyBytes_FromStringAndSize((const char *)&ref,
                                               sizeof ref)) != NULL)
            result = PyDict_SetItem(c->early, key, value);
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    return result < 0 ? -1 : 0;
}

/* The first pass over run-once code co: what it refers to that is not
 * itself run-once (items of its tuples, its names), and the same for the
 * run-once code among its constants.  Counts the run-once code objects and
 * their frozenset constants (each a slot the second pass may list). */
static int copy_shared_parts(pycds_copier *c, PyCodeObject *co, size_t *codes,
                             size_t *frozensets)
{
    if (Py_EnterRecursiveCall(" while archiving a class body"))
        return -1;
    int result = -1;
    ++*codes;
    PyObject *names[] = {co->co_filename, co->co_name, co->co_qualname};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (copy_early(c, names[i]) < 0)
            goto done;
    PyObject *tuples[] = {co->co_consts, co->co_names, co->co_localsplusnames};
    for (size_t t = 0; t < sizeof tuples / sizeof tuples[0]; t++) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuples[t]); i++) {
            PyObject *item = PyTuple_GET_ITEM(tuples[t], i);
            int nested = t == 0 && runs_once(item);
            *frozensets += t == 0 && PyFrozenSet_CheckExact(item);
            if ((nested ? copy_shared_parts(c, (PyCodeObject *)item, codes,
                                            frozensets)
                        : copy_early(c, item)) < 0)
                goto done;
        }
    }
    result = 0;
done:
    Py_LeaveRecursiveCall();
    return result;
}

/* The most objects the second pass makes for one code object: itself, its
 * three tuples and three byte strings. */
#define ONCE_PER_CODE 7

void *pycds_copier_copy_module(pycds_copier *c, uint32_t module, PyObject *code)
{
    if (!PyCode_Check(code)) {
        pycds_raise(PYCDS_ERROR_TYPE, "expected a code object, not %s",
                    Py_TYPE(code)->tp_name);
        return NULL;
    }
    forget_module(c);
    c->module = module;
    size_t once_codes = 0, once_frozensets = 0;
    if (copy_shared_parts(c, (PyCodeObject *)code, &once_codes,
                          &once_frozensets) < 0)
        return NULL;
    /* The root goes before the run-once objects, with room for what the
     * second pass may add, so that those run to the module's end. */
    size_t room = c->codes.count + once_codes + c->frozen.count +
                  once_frozensets + ONCE_PER_CODE * once_codes;
    pycds_root *root = cds_writer_alloc(
        c->writer, sizeof(pycds_root) + room * sizeof(void *), 8);
    /* Allocations are 8-aligned: the next one begins here. */
    char *once_begin = root ? cds_writer_alloc(c->writer, 0, 8) : NULL;
    if (!once_begin) {
        pycds_raise(PYCDS_ERROR_MEMORY, "pycds archive arena is full");
        return NULL;
    }
    c->second_pass = 1;
    reference ref = {0};
    int copied = copy_object(c, code, &ref);
    c->second_pass = 0;
    /* The module ends on a page boundary: its last run-once page is whole. */
    char *end =
        copied < 0 ? NULL : cds_writer_alloc(c->writer, 0, CDS_PAGE_SIZE);
    if (!end) {
        if (!PyErr_Occurred())
            pycds_raise(PYCDS_ERROR_MEMORY, "pycds archive arena is full");
        return NULL;
    }
    size_t codes = c->codes.count, frozen = c->frozen.count;
    size_t items = codes + frozen + c->once.count;
    if (items > room)
        return pycds_raise(PYCDS_ERROR_RUNTIME,
                           "run-once objects outgrew their room");
    root->magic = PYCDS_ROOT_MAGIC;
    root->code_count = (uint32_t)codes;
    root->frozenset_count = (uint32_t)frozen;
    root->once_count = (uint32_t)c->once.count;
    root->once_begin = once_begin;
    root->once_size = (uint64_t)(end - once_begin);
    if (check(cds_writer_add_reloc(c->writer, &root->once_begin,
                                   CDS_RELOC_INTERNAL, 0)) < 0)
        return NULL;
    /* The module's own code first, then the others in copying order. */
    size_t at = 0;
    root->items[at++] = ref.address;
    for (size_t i = 0; i < codes; i++) {
        void *item = OS_ARRAY_AT(&c->codes, void *, i);
        if (item != ref.address)
            root->items[at++] = item;
    }
    for (size_t i = 0; i < frozen; i++)
        root->items[at++] = OS_ARRAY_AT(&c->frozen, void *, i);
    for (size_t i = 0; i < c->once.count; i++)
        root->items[at++] = OS_ARRAY_AT(&c->once, void *, i);
    for (size_t i = 0; i < items; i++)
        if (check(cds_writer_add_reloc(c->writer, &root->items[i],
                                       CDS_RELOC_INTERNAL, 0)) < 0)
            return NULL;
    return root;
}
