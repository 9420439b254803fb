/*
 * compat.h - the one place where CPython versions differ for pycds's C:
 * no other file under pycds/ext tests PY_VERSION_HEX (fingerprint.c records
 * the version and build kind in the fingerprint, it does not branch on
 * them).  The Python side's differences are those python itself shows a
 * program (sys.last_exc, the 3.13 REPL: pycds/_child.py).
 *
 * Include this instead of Python.h.  Py_BUILD_CORE_MODULE (not Py_BUILD_CORE,
 * which makes the module read a thread-local that libpython does not export)
 * opens internal/pycore_*.h.  Supported: CPython 3.11, 3.12 and 3.13, default
 * (non-debug, GIL) builds.  Everything below is static inline: each function
 * names one thing pycds does to an object, and hides how this version does it.
 */
#ifndef PYCDS_COMPAT_H
#define PYCDS_COMPAT_H

#ifndef Py_BUILD_CORE_MODULE
#define Py_BUILD_CORE_MODULE 1
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <string.h>

#include "internal/pycore_code.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_runtime.h"
#if PY_VERSION_HEX < 0x030C0000
#include "internal/pycore_pymem.h"
#endif

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "pycds supports CPython 3.11, 3.12 and 3.13"
#endif
#ifdef Py_GIL_DISABLED
#error "pycds does not support free-threaded builds"
#endif

#define PYCDS_PY311 (PY_VERSION_HEX < 0x030C0000)
#define PYCDS_PY313 (PY_VERSION_HEX >= 0x030D0000)

/* ------------------------------------------------------------ refcounts */

/*
 * Archived objects must never be freed: their memory is the mapping.  3.12+
 * has immortality and never writes such a count.  3.11 has none, so archived
 * objects get the large count CPython 3.11 gives its own static objects: it
 * can never fall to zero, and is never one (a count of one lets `str +=` and
 * tuple resizing modify an object in place).
 */
#if PYCDS_PY311
#define PYCDS_ARCHIVED_REFCNT ((Py_ssize_t)999999999)
#else
#define PYCDS_ARCHIVED_REFCNT ((Py_ssize_t)_Py_IMMORTAL_REFCNT)
#endif

/*
 * Run-once objects (layout.h) are mortal on every version, so that a
 * reference the body or a class body left behind (a frame kept, a traceback
 * stored, a code object's tuple taken) shows as a count above this one.
 * It is 3.11's archived count: it never falls to zero, and on 3.12+ it is
 * below the immortal range.
 */
#define PYCDS_ONCE_REFCNT ((Py_ssize_t)999999999)

/* ------------------------------------------------------------------ str */

/*
 * Compact strings, read from their fields alone (not through the PyUnicode
 * macros), so that the same code serves live strings and archived copies
 * whose ob_type is not relocated yet.
 */
static inline size_t pycds_str_header_size(const PyObject *s)
{
    return ((const PyASCIIObject *)s)->state.ascii
               ? sizeof(PyASCIIObject)
               : sizeof(PyCompactUnicodeObject);
}

/* Bytes a compact str occupies: header, characters and the terminator. */
static inline size_t pycds_str_size(const PyObject *s)
{
    const PyASCIIObject *a = (const PyASCIIObject *)s;
    return pycds_str_header_size(s) + ((size_t)a->length + 1) * a->state.kind;
}

/* Make s's kind and code units readable (3.11 still has strings made from
 * wchar_t that are not yet); 0, or -1 with an exception. */
static inline int pycds_str_ready(PyObject *s)
{
#if PYCDS_PY311
    return PyUnicode_READY(s);
#else
    (void)s;
    return 0;
#endif
}

/* Whether pycds can copy s as raw memory (marshal makes only such strings). */
static inline int pycds_str_copyable(PyObject *s)
{
#if PYCDS_PY311
    if (!PyUnicode_IS_READY(s))
        return 0;
#endif
    return PyUnicode_IS_COMPACT(s);
}

/* Clear what a copied str must not carry into another process: its hash
 * (randomised per process), interning and static state, cached UTF-8. */
static inline void pycds_str_reset(PyObject *copy)
{
    PyASCIIObject *a = (PyASCIIObject *)copy;
    a->hash = -1;
    a->state.interned = 0;
#if PYCDS_PY311
    a->wstr = NULL;
    if (!a->state.ascii)
        ((PyCompactUnicodeObject *)copy)->wstr_length = 0;
#else
    a->state.statically_allocated = 0;
#endif
    if (!a->state.ascii) {
        ((PyCompactUnicodeObject *)copy)->utf8 = NULL;
        ((PyCompactUnicodeObject *)copy)->utf8_length = 0;
    }
}

/*
 * Point a copied str's wide form at its own characters where the
 * interpreter shares them, and return that slot (NULL where nothing is
 * shared).  On 3.11 a 4-byte-kind str shares its characters as its wchar_t
 * form (wchar_t is 4 bytes here): PyUnicode_New sets wstr to the data and
 * wstr_length to the length, and the wide-character APIs (ctypes, os) trust
 * that pair.  pycds_str_reset cleared both; this restores them for the copy,
 * whose data lies in the archive, so the slot needs an internal relocation.
 */
static inline void **pycds_str_set_shared_wchar(PyObject *copy)
{
#if PYCDS_PY311 && SIZEOF_WCHAR_T == 4
    PyASCIIObject *a = (PyASCIIObject *)copy;
    if (a->state.kind != PyUnicode_4BYTE_KIND)
        return NULL;
    a->wstr = (wchar_t *)PyUnicode_DATA(copy);
    ((PyCompactUnicodeObject *)copy)->wstr_length = a->length;
    return (void **)&a->wstr;
#else
    (void)copy;
    return NULL;
#endif
}

/*
 * Intern the archived string in *slot as the interpreter interns code names,
 * replacing *slot when an equal string is already interned.  The replacement
 * keeps a reference that is never released: the archive points at it for the
 * life of the process.  Returns -1 with an exception set on failure.
 */
static inline int pycds_intern(PyObject **slot)
{
    /* On a replacement, the call releases a reference to the string it was
     * given (for archived objects a no-op) and the slot owns one on the
     * replacement. */
#if PYCDS_PY313
    _PyUnicode_InternImmortal(_PyInterpreterState_GET(), slot);
#else
    PyUnicode_InternInPlace(slot);
#endif
    return PyErr_Occurred() ? -1 : 0;
}

/* The value of an archived string that may not be relocated yet: a new str
 * made from the characters the dumper wrote. */
static inline PyObject *pycds_str_from_copy(const PyObject *copy)
{
    const PyASCIIObject *a = (const PyASCIIObject *)copy;
    unsigned kind = a->state.kind;
    if (!a->state.compact || (kind != 1 && kind != 2 && kind != 4)) {
        PyErr_SetString(PyExc_ValueError, "archived string of unknown layout");
        return NULL;
    }
    return PyUnicode_FromKindAndData(
        (int)kind, (const char *)copy + pycds_str_header_size(copy), a->length);
}

/* Whether s is the interpreter's shared one-character string for ch. */
static inline int pycds_is_latin1_singleton(PyObject *s, Py_UCS4 ch)
{
    PyObject *shared = PyUnicode_FromOrdinal((int)ch);
    Py_XDECREF(shared); /* the singletons live as long as the interpreter */
    PyErr_Clear();
    return shared == s;
}

/*
 * Whether a one-character latin-1 string s (for ch) is archived as the
 * interpreter's shared one, the identity plain unmarshalling gives.  On
 * 3.13 always; on 3.11 and 3.12 an interned one may be another object
 * (3.12's static identifiers, say): it stays, and is interned at load.
 */
static inline int pycds_str_is_shared_char(PyObject *s, Py_UCS4 ch)
{
#if PYCDS_PY313
    (void)s;
    (void)ch;
    return 1;
#else
    return !PyUnicode_CHECK_INTERNED(s) || pycds_is_latin1_singleton(s, ch);
#endif
}

/* ------------------------------------------------------------- members */

/* The member type of a name of __slots__ (its value, or AttributeError
 * while unset); 3.11 names it in structmember.h. */
#if PYCDS_PY311
#include <structmember.h>
#define PYCDS_SLOT_MEMBER T_OBJECT_EX
#else
#define PYCDS_SLOT_MEMBER Py_T_OBJECT_EX
#endif

/* ---------------------------------------------------------------- bytes */

static inline size_t pycds_bytes_size(PyObject *b)
{
    return offsetof(PyBytesObject, ob_sval) + (size_t)PyBytes_GET_SIZE(b) + 1;
}

static inline void pycds_bytes_reset(PyObject *copy)
{
    /* ob_shash is deprecated in the API but still the live hash cache. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ((PyBytesObject *)copy)->ob_shash = -1;
#pragma GCC diagnostic pop
}

/* ------------------------------------------------------------------ int */

static inline size_t pycds_long_size(PyObject *v)
{
#if PYCDS_PY311
    Py_ssize_t digits = Py_ABS(Py_SIZE(v));
#else
    Py_ssize_t digits = (Py_ssize_t)(((PyLongObject *)v)->long_value.lv_tag >>
                                     _PyLong_NON_SIZE_BITS);
#endif
    if (digits < 1)
        digits = 1;
#if PYCDS_PY311
    size_t header = offsetof(PyLongObject, ob_digit);
#else
    size_t header = offsetof(PyLongObject, long_value.ob_digit);
#endif
    return header + (size_t)digits * sizeof(digit);
}

/* ----------------------------------------------------------------- code */

static inline size_t pycds_code_size(PyCodeObject *co)
{
    return (size_t)_PyObject_VAR_SIZE(&PyCode_Type, Py_SIZE(co));
}

/* A code object's co_version (the function version 3.12+ derive from it),
 * or None on 3.11, which has none. */
static inline PyObject *pycds_code_version(PyCodeObject *co)
{
#if PYCDS_PY311
    (void)co;
    Py_RETURN_NONE;
#else
    return PyLong_FromUnsignedLong(co->co_version);
#endif
}

/*
 * Whether co is as the interpreter creates it: never run, never quickened
 * (3.11), never instrumented or optimised (3.12+).  Only such code is copied;
 * code that ran carries specialised bytecode tied to its process.  3.11's
 * caches of co_code's bytes and of the line table do not count: marshal
 * fills the first when a loader writes the .pyc of a source it compiled,
 * and pycds_code_reset empties both in the copy.
 */
static inline int pycds_code_is_fresh(PyCodeObject *co)
{
#if PYCDS_PY311
    return co->co_warmup == QUICKENING_INITIAL_WARMUP_VALUE;
#elif PYCDS_PY313
    return co->_co_monitoring == NULL && co->_co_instrumentation_version == 0 &&
           co->co_executors == NULL;
#else
    return co->_co_monitoring == NULL && co->_co_instrumentation_version == 0;
#endif
}

/*
 * Reset the caches of a copied code object.  Bytecode stays as creation left
 * it: 3.11 quickens lazily and co_warmup is at its start value; 3.12 and 3.13
 * quicken at creation, and fresh code is in exactly that state.  co_version
 * is 0 in the archive: 3.12 then versions functions lazily; 3.13 gets fresh
 * numbers at load (pycds_code_revive).
 */
static inline void pycds_code_reset(PyCodeObject *copy)
{
    copy->co_weakreflist = NULL;
    copy->co_extra = NULL;
#if PYCDS_PY311
    copy->_co_code = NULL;
    copy->_co_linearray = NULL;
    copy->_co_linearray_entry_size = 0;
    copy->co_warmup = QUICKENING_INITIAL_WARMUP_VALUE;
#else
    copy->_co_cached = NULL;
    copy->_co_instrumentation_version = 0;
    copy->_co_monitoring = NULL;
    copy->co_version = 0;
#endif
#if PYCDS_PY313
    copy->co_executors = NULL;
#endif
}

/*
 * Whether nothing but references and weak references could still reach
 * code object co once its count says none is left: no extra data a tool
 * attached (it may keep the code's address, and expects to be told of its
 * end), no optimiser state (3.13), and no code watcher, which would expect
 * a destruction event for code that goes away.  (Monitoring data is freed
 * with it, as code_dealloc does: pycds_code_forget.)
 */
static inline int pycds_code_unattached(PyCodeObject *co)
{
    if (co->co_extra != NULL)
        return 0;
#if PYCDS_PY311
    return 1;
#else
    if (_PyInterpreterState_GET()->active_code_watchers != 0)
        return 0;
#if PYCDS_PY313
    if (co->co_executors != NULL)
        return 0;
#endif
    return 1;
#endif
}

/*
 * What code_dealloc does for a code object that is going away, besides
 * clearing its weak references and freeing it: its caches freed (the
 * bytecode and names its attributes made, 3.11's line table), on 3.12+ its
 * monitoring data (sys.settrace, setprofile and sys.monitoring make it for
 * code that runs while they are on) and, on 3.13, the function-version
 * cache's borrowed pointer to it cleared.
 */
static inline void pycds_code_forget(PyCodeObject *co)
{
#if PYCDS_PY311
    Py_CLEAR(co->_co_code);
    if (co->_co_linearray) {
        PyMem_Free(co->_co_linearray);
        co->_co_linearray = NULL;
    }
#else
    _PyCoCached *cached = co->_co_cached;
    if (cached) {
        co->_co_cached = NULL;
        Py_XDECREF(cached->_co_code);
        Py_XDECREF(cached->_co_varnames);
        Py_XDECREF(cached->_co_cellvars);
        Py_XDECREF(cached->_co_freevars);
        PyMem_Free(cached);
    }
    _PyCoMonitoringData *monitoring = co->_co_monitoring;
    if (monitoring) {
        co->_co_monitoring = NULL;
        PyMem_Free(monitoring->tools);
        PyMem_Free(monitoring->lines);
        PyMem_Free(monitoring->line_tools);
        PyMem_Free(monitoring->per_instruction_opcodes);
        PyMem_Free(monitoring->per_instruction_tools);
        PyMem_Free(monitoring);
    }
#endif
#if PYCDS_PY313
    struct _func_version_cache_item *slot =
        &_PyInterpreterState_GET()
             ->func_state
             .func_version_cache[co->co_version % FUNC_VERSION_CACHE_SIZE];
    if (slot->code == (PyObject *)co) {
        slot->code = NULL;
        slot->func = NULL;
    }
#endif
}

/*
 * What the interpreter does for every code object it creates, done at load
 * for archived ones: give it a function version of its own (3.13; reusing the
 * dumping process's numbers collides with this process's functions) and tell
 * code watchers (3.12+).
 */
static inline int pycds_code_revive(PyCodeObject *co)
{
#if PYCDS_PY311
    (void)co;
    return 0;
#else
    PyInterpreterState *interp = _PyInterpreterState_GET();
#if PYCDS_PY313
    co->co_version = interp->func_state.next_version;
    if (interp->func_state.next_version != 0)
        interp->func_state.next_version++;
#endif
    uint8_t watchers = interp->active_code_watchers;
    for (int i = 0; watchers && i < CODE_MAX_WATCHERS; i++, watchers >>= 1) {
        PyCode_WatchCallback callback = interp->code_watchers[i];
        if ((watchers & 1) && callback &&
            callback(PY_CODE_EVENT_CREATE, co) < 0)
            PyErr_WriteUnraisable((PyObject *)co);
    }
    return 0;
#endif
}

/* ------------------------------------------------------------ classes */

/* A class's own namespace dict, new reference (static builtin types keep
 * theirs in the interpreter from 3.12, where tp_dict is NULL). */
static inline PyObject *pycds_type_namespace(PyTypeObject *type)
{
#if PYCDS_PY311
    return Py_XNewRef(type->tp_dict);
#else
    return PyType_GetDict(type);
#endif
}

/* A number that changes whenever the class's own attributes change (one
 * set or deleted: PyType_Modified sets its version tag to 0, and a new tag
 * is never one given before), 0 where none can be had (the interpreter ran
 * out of tags): the class's version tag, given now.  (3.13 gives tags
 * without Py_TPFLAGS_VALID_VERSION_TAG; 0 is "none" in every version.) */
static inline unsigned int pycds_type_stamp(PyTypeObject *type)
{
#if PYCDS_PY311
    if (!type->tp_version_tag) {
        /* Any name the method cache takes: the lookup gives the tag. */
        static PyObject *name;
        if (!name && !(name = PyUnicode_InternFromString("__init__"))) {
            PyErr_Clear();
            return 0;
        }
        (void)_PyType_Lookup(type, name);
    }
#else
    (void)PyUnstable_Type_AssignVersionTag(type);
#endif
    return type->tp_version_tag;
}

/* ------------------------------------------------------------- errors */

/* Keep the raised exception aside while cleaning up. */
typedef struct pycds_saved_error {
#if PYCDS_PY311
    PyObject *type, *value, *traceback;
#else
    PyObject *exception;
#endif
} pycds_saved_error;

static inline pycds_saved_error pycds_error_save(void)
{
    pycds_saved_error saved;
#if PYCDS_PY311
    PyErr_Fetch(&saved.type, &saved.value, &saved.traceback);
#else
    saved.exception = PyErr_GetRaisedException();
#endif
    return saved;
}

static inline void pycds_error_restore(pycds_saved_error saved)
{
#if PYCDS_PY311
    PyErr_Restore(saved.type, saved.value, saved.traceback);
#else
    PyErr_SetRaisedException(saved.exception);
#endif
}

/* str() of the raised exception (new reference, or NULL); clears it. */
static inline PyObject *pycds_error_text(void)
{
    pycds_saved_error saved = pycds_error_save();
#if PYCDS_PY311
    PyErr_NormalizeException(&saved.type, &saved.value, &saved.traceback);
    PyObject *value = saved.value;
    Py_XDECREF(saved.type);
    Py_XDECREF(saved.traceback);
#else
    PyObject *value = saved.exception;
#endif
    PyObject *text = value ? PyObject_Str(value) : NULL;
    Py_XDECREF(value);
    PyErr_Clear();
    return text;
}

/* --------------------------------------------------------- interpreter */

/* pycds serves the main interpreter only: interned strings are per
 * interpreter on 3.12+. */
static inline int pycds_in_main_interpreter(void)
{
    return PyInterpreterState_Get() == PyInterpreterState_Main();
}

/* Whether tracemalloc traces allocations (tracemalloc.is_tracing(),
 * asked without importing it): a runtime-wide flag, 3.11's in its own
 * global, 3.12's and 3.13's in _PyRuntime. */
static inline int pycds_tracemalloc_tracing(void)
{
#if PYCDS_PY311
    return _Py_tracemalloc_config.tracing;
#else
    return _PyRuntime.tracemalloc.config.tracing;
#endif
}

/* A number that changes whenever `dict` may have changed since the last
 * call gave it (0, or -1 with an exception).  3.11 keeps a version tag in
 * every dict, which each change renews; 3.12 and 3.13 no longer promise
 * one, so the dict is watched (PyDict_Watch) and the number counts the
 * changes of every dict pycds watches: witness.c defines the counter and
 * the watcher (one per process: pycds restores in the main interpreter
 * only). */
#if !PYCDS_PY311
extern uint64_t pycds_dict_changes;
extern int pycds_dict_watcher;

static inline int pycds_count_dict_change(PyDict_WatchEvent event,
                                          PyObject *dict, PyObject *key,
                                          PyObject *new_value)
{
    (void)event, (void)dict, (void)key, (void)new_value;
    pycds_dict_changes++;
    return 0;
}
#endif

/* Whether an instance's __dict__, once made, has a stamp that its
 * attribute stores renew: 3.13 stores them in the instance's inline values,
 * which the dict shares, with no dict watcher event. */
#define PYCDS_INSTANCE_DICT_STAMPS (!PYCDS_PY313)

static inline int pycds_dict_stamp(PyObject *dict, uint64_t *stamp)
{
#if PYCDS_PY311
    *stamp = ((PyDictObject *)dict)->ma_version_tag;
#else
    if (pycds_dict_watcher < 0 &&
        (pycds_dict_watcher = PyDict_AddWatcher(pycds_count_dict_change)) < 0)
        return -1;
    if (PyDict_Watch(pycds_dict_watcher, dict) < 0)
        return -1;
    *stamp = pycds_dict_changes;
#endif
    return 0;
}

/* Whether function watchers (PyFunction_AddWatcher) tell of changes to a
 * function's code, defaults and keyword defaults: 3.12 and 3.13; 3.11 has
 * none (witness.c's readings see those changes where the restore says
 * code may have run: memo_after_code). */
#define PYCDS_FUNCTION_STAMPS (!PYCDS_PY311)

/* A function's __type_params__ (borrowed; NULL where it has none, or an
 * empty tuple: what functools.wraps copies from a function without any,
 * and what a restored function leaves unset): 3.12 keeps them in the
 * function, 3.11 has none. */
static inline PyObject *pycds_function_type_params(PyFunctionObject *f)
{
#if PYCDS_PY311
    (void)f;
    return NULL;
#else
    PyObject *params = f->func_typeparams;
    return params && PyTuple_Check(params) && PyTuple_GET_SIZE(params) == 0
               ? NULL
               : params;
#endif
}

/* ------------------------------------------------------------- exit */

/* Report that flushing sys.stdout at exit failed (the current exception)
 * in this version's words: 3.13 says what it was flushing. */
static inline void pycds_report_stdout_flush(PyObject *stream)
{
#if PYCDS_PY313
    (void)stream;
    PyErr_FormatUnraisable("Exception ignored on flushing sys.stdout");
#else
    PyErr_WriteUnraisable(stream);
#endif
}

/* ------------------------------------------------------- frame stack */

/*
 * The Python frames below a call, set aside (child.c's call_alone): a
 * served program's process was forked deep inside the server's Python
 * code, and a program run with those frames below it sees them
 * (sys._getframe().f_back, traceback.print_stack, a warning's stacklevel)
 * and recurses less deep.  With the thread's frame chain detached and its
 * recursion budget whole, the program's first frame is the bottom one, as
 * in a plain process.
 */
typedef struct pycds_frames {
    struct _PyInterpreterFrame *frame;
    int remaining, limit;
} pycds_frames;

static inline pycds_frames pycds_frames_detach(PyThreadState *ts)
{
    pycds_frames saved;
#if PYCDS_PY313
    saved.frame = ts->current_frame;
    ts->current_frame = NULL;
#else
    saved.frame = ts->cframe->current_frame;
    ts->cframe->current_frame = NULL;
#endif
#if PYCDS_PY311
    saved.remaining = ts->recursion_remaining;
    saved.limit = ts->recursion_limit;
    ts->recursion_remaining = ts->recursion_limit;
#else
    saved.remaining = ts->py_recursion_remaining;
    saved.limit = ts->py_recursion_limit;
    ts->py_recursion_remaining = ts->py_recursion_limit;
#endif
    return saved;
}

/* Put them back (a limit the call changed moves the budget as
 * sys.setrecursionlimit moves it). */
static inline void pycds_frames_attach(PyThreadState *ts, pycds_frames saved)
{
#if PYCDS_PY313
    ts->current_frame = saved.frame;
#else
    ts->cframe->current_frame = saved.frame;
#endif
#if PYCDS_PY311
    ts->recursion_remaining =
        saved.remaining + (ts->recursion_limit - saved.limit);
#else
    ts->py_recursion_remaining =
        saved.remaining + (ts->py_recursion_limit - saved.limit);
#endif
}

#endif /* PYCDS_COMPAT_H */
