/*
 * module.c - the pycds._cds extension module.
 */
#include "compat.h"

#include "archive_type.h"
#include "aside.h"
#include "child.h"
#include "class_image.h"
#include "classes.h"
#include "contents.h"
#include "copier.h"
#include "error.h"
#include "fastpath.h"
#include "finder.h"
#include "fingerprint.h"
#include "format_export.h"
#include "layout.h"
#include "module_state.h"
#include "observed.h"
#include "runlib.h"
#include "server.h"
#include "settings.h"
#include "share.h"
#include "tenure.h"
#include "trust.h"
#include "unit.h"
#include "witness.h"

#include <errno.h>

extern PyType_Spec pycds_writer_spec;

static PyObject *fingerprint(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    size_t size;
    const char *text = pycds_fingerprint(&size);
    return PyBytes_FromStringAndSize(text, (Py_ssize_t)size);
}

static PyObject *hash_bytes(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    uint64_t hash = cds_hash(data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLongLong(hash);
}

static PyObject *code_version(PyObject *module, PyObject *code)
{
    (void)module;
    if (!PyCode_Check(code)) {
        return pycds_raise(PYCDS_ERROR_TYPE,
                           "code_version() needs a code object");
    }
    return pycds_code_version((PyCodeObject *)code);
}

static PyMethodDef module_methods[] = {
    {"code_version", code_version, METH_O,
     "code_version(code) -> int or None: the code object's co_version, the\n"
     "function version CPython 3.12+ derives from it (None on 3.11)."},
    {"hash_bytes", hash_bytes, METH_O,
     "hash_bytes(data) -> int: the archive format's XXH3 64-bit hash."},
    {"file_hash", pycds_file_hash_py, METH_O,
     "file_hash(path) -> int or None: hash_bytes of a regular file's\n"
     "contents, None when path is no regular file that can be read."},
    {"share_open", (PyCFunction)(void (*)(void))pycds_share_open,
     METH_VARARGS | METH_KEYWORDS,
     "share_open(path, *, verify_objects=False, verbose=0, validate='mtime')\n"
     "-> dict: map this process's archive (once), ArchiveError when it is\n"
     "refused (damaged, foreign, made under other code settings:\n"
     "STATUS_SETTINGS), with nothing installed and nothing left mapped;\n"
     "verbose (PYCDSVERBOSE) and validate (PYCDSVALIDATE: mtime,\n"
     "hash or none; ValueError otherwise) hold for what it serves."},
    {"share_validation", pycds_share_validation_name, METH_NOARGS,
     "share_validation() -> str: the shared archive's PYCDSVALIDATE\n"
     "(mtime, hash or none)."},
    {"share_lookup", pycds_share_lookup, METH_O,
     "share_lookup(name) -> (number, origin, is_package, mtime_ns, size,\n"
     "hash) or None."},
    {"share_code_as_dumped", pycds_share_code_as_dumped, METH_O,
     "share_code_as_dumped(name) -> True when the module's code that ran\n"
     "in this process is the archive's (served, or imported from a file\n"
     "that still passes PYCDSVALIDATE's check), False when its file changed,\n"
     "None when the archive holds no code of it."},
    {"share_code", pycds_share_code, METH_O,
     "share_code(number) -> the module's code object, made ready on first\n"
     "use; None when it must be imported plainly."},
    {"type_dict", pycds_type_dict, METH_O,
     "type_dict(cls) -> dict: the namespace of a class made by Python code,\n"
     "not a copy (for snapshot restores); call type_modified after a change."},
    {"unit_function", (PyCFunction)(void (*)(void))pycds_unit_function,
     METH_FASTCALL,
     "unit_function(code, globals, name, qualname, closure, defaults,\n"
     "kwdefaults, annotations, doc, module, attrs, type_params) -> function\n"
     "(snapshot restores)."},
    {"unit_class", (PyCFunction)(void (*)(void))pycds_unit_class, METH_FASTCALL,
     "unit_class(metaclass, name, bases, namespace[, image]) -> class, made\n"
     "from its image (class_image) or by type.__new__, with no\n"
     "__init_subclass__ called (snapshot restores)."},
    {"class_image", (PyCFunction)(void (*)(void))pycds_class_image,
     METH_FASTCALL,
     "class_image(cls, namespace) -> image, or a str saying why none: what\n"
     "unit_class needs to make cls again from namespace without\n"
     "type.__new__, checked by making it so here."},
    {"class_differences", (PyCFunction)(void (*)(void))pycds_class_differences,
     METH_FASTCALL,
     "class_differences(a, b) -> list: the words where two classes made by\n"
     "Python code differ (caches and their own storage aside)."},
    {"witness", pycds_witness, METH_O,
     "witness(obj) -> tuple: what must still hold of an object a snapshot\n"
     "unit names by path (pycds/ext/witness.h)."},
    {"digest", (PyCFunction)(void (*)(void))pycds_digest, METH_FASTCALL,
     "digest(value, stand_ins=None, substitutes=None) -> what a snapshot\n"
     "unit's body may have read of another module's attribute\n"
     "(pycds/ext/witness.h)."},
    {"matches_witness", (PyCFunction)(void (*)(void))pycds_matches_witness,
     METH_FASTCALL,
     "matches_witness(obj, witness, checked) -> bool: witness(obj) ==\n"
     "witness, remembered in checked."},
    {"shallow", pycds_shallow, METH_O,
     "shallow(value) -> a plain value's (\"=\", value) (a float's bits,\n"
     "a bool apart from its int), else its witness."},
    {"check_reads", (PyCFunction)(void (*)(void))pycds_check_reads,
     METH_FASTCALL,
     "check_reads(bindings, reads, checked) -> None or (kind, index) of\n"
     "the first that no longer holds."},
    {"digest_hash", pycds_digest_hash, METH_O,
     "digest_hash(digest) -> int: its XXH3-64, what a unit keeps of a read."},
    {"namespace_hashes", pycds_namespace_hashes, METH_NOARGS,
     "namespace_hashes() -> int: how many class namespaces the checks\n"
     "have hashed in this process (the rest came from the memo)."},
    {"memo_after_code", pycds_memo_after_code, METH_O,
     "memo_after_code(checked) -> bool: whether code changed what the\n"
     "checks read and no stamp renews (then what they remembered of it\n"
     "is forgotten)."},
    {"check_hashed_reads",
     (PyCFunction)(void (*)(void))pycds_check_hashed_reads, METH_FASTCALL,
     "check_hashed_reads(groups, checked) -> None or (group, index) of the\n"
     "first read whose digest no longer hashes the same."},
    {"read_value", (PyCFunction)(void (*)(void))pycds_read_value, METH_FASTCALL,
     "read_value(module, name, default) -> what a read names now, or\n"
     "default (a dotted name goes through instances' __dict__s)."},
    {"check_same", (PyCFunction)(void (*)(void))pycds_check_same, METH_FASTCALL,
     "check_same(same, memo) -> None or the index of the first read that\n"
     "no longer finds the object the unit keeps."},
    {"resolve", (PyCFunction)(void (*)(void))pycds_resolve, METH_FASTCALL,
     "resolve(path, step) -> the object a unit's path names."},
    {"resolve_externals", (PyCFunction)(void (*)(void))pycds_resolve_externals,
     METH_FASTCALL,
     "resolve_externals(entries, memo, checked, step) -> None or (index,\n"
     "found): each (path, witness) found and checked, its object appended\n"
     "to memo; the first that is gone (found False) or not what it was."},
    {"put_in_order", (PyCFunction)(void (*)(void))pycds_put_in_order,
     METH_FASTCALL,
     "put_in_order(dict, order): the keys of order first, in its order,\n"
     "any others after them."},
    {"fill_class", (PyCFunction)(void (*)(void))pycds_fill_class, METH_FASTCALL,
     "fill_class(cls, state, abc_step, type_data): the rest of a unit\n"
     "class's namespace, in order (snapshot restores)."},
    {"observer", pycds_observer, METH_NOARGS,
     "observer() -> None, or what watches the code this thread runs (a\n"
     "trace or profile function, a sys.monitoring tool): no unit is\n"
     "restored meanwhile (pycds/ext/observed.h)."},
    {"load_aside", (PyCFunction)(void (*)(void))pycds_load_aside, METH_FASTCALL,
     "load_aside(spec, stand_ins) -> module: an extension module made while\n"
     "sys.modules holds the stand-ins, then put back, with no Python code\n"
     "run between (pycds/ext/aside.h)."},
    {"call_aside", (PyCFunction)(void (*)(void))pycds_call_aside,
     METH_VARARGS | METH_KEYWORDS,
     "call_aside(stand_ins, function, *args, **kwargs) -> function(*args,\n"
     "**kwargs), called while sys.modules holds the stand-ins, then put\n"
     "back, with no Python code run between but the function's."},
    {"first_argument", (PyCFunction)(void (*)(void))pycds_first_argument,
     METH_FASTCALL,
     "first_argument(value, *ignored) -> value (a stand-in's function)."},
    {"tenured", (PyCFunction)(void (*)(void))pycds_tenured, METH_FASTCALL,
     "tenured(function, argument) -> function(argument), what it made\n"
     "linked into the collector's oldest generation (pycds/ext/tenure.h)."},
    {"class_image_count", pycds_class_image_count, METH_NOARGS,
     "class_image_count() -> int: classes this process made from images."},
    {"unit_imports", (PyCFunction)(void (*)(void))pycds_unit_imports,
     METH_FASTCALL,
     "unit_imports(imports, globals) -> None or (index, failed): a unit's\n"
     "import statements made again, in order."},
    {"unit_codes", (PyCFunction)(void (*)(void))pycds_unit_codes, METH_FASTCALL,
     "unit_codes(code, paths, memo): the code objects a unit names, by\n"
     "their co_consts paths, appended to memo."},
    {"unit_strings", (PyCFunction)(void (*)(void))pycds_unit_strings,
     METH_FASTCALL,
     "unit_strings(memo, start, pairs, names) -> the strings a unit shares\n"
     "with the module's code, by (code, slot) pairs of code objects in memo,\n"
     "then names, interned (floats and ints among them as they are)."},
    {"unit_fills", (PyCFunction)(void (*)(void))pycds_unit_fills, METH_FASTCALL,
     "unit_fills(batch, abc_step, type_data, other): a unit's fills, in\n"
     "order (classes and cells in C, other kinds by other)."},
    {"is_interned", pycds_is_interned, METH_O,
     "is_interned(obj) -> bool: an interned str (sys.intern would make it "
     "one)."},
    {"unit_install", (PyCFunction)(void (*)(void))pycds_unit_install,
     METH_FASTCALL,
     "unit_install(namespace, items, keep, fresh): a restored module's\n"
     "namespace, in the body's order."},
    {"unit_object", pycds_unit_object, METH_O,
     "unit_object(cls) -> object.__new__(cls) (snapshot restores)."},
    {"unit_fill", (PyCFunction)(void (*)(void))pycds_unit_fill, METH_FASTCALL,
     "unit_fill(obj, (attrs, slots, items)): an instance's state\n"
     "(snapshot restores)."},
    {"is_python_class", pycds_is_python_class, METH_O,
     "is_python_class(cls) -> bool: made by type.__new__ (a class statement),\n"
     "not by an extension module, whatever its flags."},
    {"is_stateless_c_base", pycds_stateless_c_base, METH_O,
     "is_stateless_c_base(cls) -> bool: a C class that adds nothing to\n"
     "object's layout and makes its objects as object does."},
    {"type_modified", pycds_type_modified, METH_O,
     "type_modified(cls): forget what method caches know of cls."},
    {"unit_starts", pycds_share_unit_starts, METH_O,
     "unit_starts(name) -> bool: module `name` has a unit that pays for\n"
     "loading the restore when it is a process's first (layout.h)."},
    {"share_unit", pycds_share_unit, METH_O,
     "share_unit(name) -> memoryview or None: the unit archived for module\n"
     "`name` (its record NAME + '\\0unit'), read-only over the mapped\n"
     "archive, valid for the life of the process; None when there is none or\n"
     "no archive is shared."},
    {"set_restorer", pycds_finder_set_restorer, METH_O,
     "set_restorer(callable or None): when a module's code is served from\n"
     "the archive and the archive holds a unit for it, exec_module first\n"
     "calls callable(module, code, unit_memoryview): True, the module is\n"
     "restored and its body is not run; False, the body runs; an exception\n"
     "propagates to the import (TypeError for any other result).  A module\n"
     "without a unit whose import pays for the restore is announced with\n"
     "unit None (the answer must be False)."},
    {"set_import_memo", pycds_finder_set_import_memo, METH_O,
     "set_import_memo(dict or None): a dict that is emptied whenever the\n"
     "outermost exec_module of archived code returns, so that what the\n"
     "restorer remembers while an import runs does not outlive it."},
    {"share_stats", pycds_share_stats, METH_NOARGS,
     "share_stats() -> dict: modules served and time spent preparing them."},
    {"serve", (PyCFunction)(void (*)(void))pycds_serve,
     METH_VARARGS | METH_KEYWORDS, PYCDS_SERVE_DOC},
    {"fast_path_record", pycds_fastpath_encode, METH_VARARGS,
     "fast_path_record(prefix, earlier, strict) -> bytes: a module's\n"
     "fast-path record (pycds/ext/fastpath.h); b'' when not recordable."},
    {"fingerprint", fingerprint, METH_NOARGS,
     "fingerprint() -> bytes: the identity of this interpreter build that\n"
     "archives record; an archive with another fingerprint is refused."},
    {NULL, NULL, 0, NULL},
};

/* The method tables of the other files, added to the module. */
static int add_methods(PyObject *m, PyMethodDef *table)
{
    for (PyMethodDef *def = table; def->ml_name; def++) {
        PyObject *function = PyCFunction_NewEx(def, NULL, NULL);
        if (!function || PyModule_AddObject(m, def->ml_name, function) < 0) {
            Py_XDECREF(function);
            return -1;
        }
    }
    return 0;
}

/* UNIT_SUFFIX: what a unit record's name adds to its module's name. */
static int add_unit_suffix(PyObject *m)
{
    PyObject *suffix =
        PyUnicode_FromStringAndSize(PYCDS_UNIT_SUFFIX, PYCDS_UNIT_SUFFIX_SIZE);
    int status = suffix ? PyModule_AddObjectRef(m, "UNIT_SUFFIX", suffix) : -1;
    Py_XDECREF(suffix);
    return status;
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pycds._cds",
    .m_doc = "pycds core: archive container, copier and importer.",
    .m_size = -1,
    .m_methods = module_methods,
};

static const char archive_error_doc[] =
    "An archive was refused.  str() is one line, 'PATH: REASON'; the\n"
    "attributes path, reason and status give the parts.";

PyMODINIT_FUNC PyInit__cds(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (!pycds_state.archive_error) {
        pycds_state.archive_error = PyErr_NewExceptionWithDoc(
            "pycds._cds.ArchiveError", archive_error_doc, NULL, NULL);
        pycds_state.unsupported_error = PyErr_NewExceptionWithDoc(
            "pycds._cds.UnsupportedError",
            "A module holds something pycds cannot archive.", PyExc_ValueError,
            NULL);
        pycds_state.archive_type = PyType_FromSpec(&pycds_archive_spec);
        pycds_state.writer_type = PyType_FromSpec(&pycds_writer_spec);
        pycds_state.unservable_error = PyErr_NewExceptionWithDoc(
            "pycds._cds.Unservable",
            "This program must be run by python itself (str: why).", NULL,
            NULL);
        if (!pycds_state.archive_error || !pycds_state.unsupported_error ||
            !pycds_state.unservable_error || !pycds_state.archive_type ||
            !pycds_state.writer_type)
            goto error;
    }
    if (PyModule_AddObjectRef(m, "ArchiveError", pycds_state.archive_error) <
            0 ||
        PyModule_AddObjectRef(m, "Archive", pycds_state.archive_type) < 0 ||
        PyModule_AddObjectRef(m, "Writer", pycds_state.writer_type) < 0 ||
        PyModule_AddObjectRef(m, "UnsupportedError",
                              pycds_state.unsupported_error) < 0 ||
        PyModule_AddObjectRef(m, "Unservable", pycds_state.unservable_error) <
            0 ||
        add_methods(m, pycds_child_methods) < 0 || pycds_child_init(m) < 0 ||
        add_methods(m, pycds_runlib_methods) < 0 || pycds_runlib_init(m) < 0 ||
        add_methods(m, pycds_settings_methods) < 0 ||
        pycds_add_format_constants(m) < 0 || pycds_finder_init(m) < 0 ||
        PyModule_AddIntConstant(m, "OBJECT_FORMAT", PYCDS_OBJECT_FORMAT) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_VERSION", CDS_FORMAT_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "STATUS_UNTRUSTED", PYCDS_STATUS_UNTRUSTED) <
            0 ||
        PyModule_AddIntConstant(m, "STATUS_SETTINGS", PYCDS_STATUS_SETTINGS) <
            0 ||
        PyModule_AddIntConstant(m, "DEFAULT_BASE", (long)CDS_DEFAULT_BASE) <
            0 ||
        PyModule_AddIntConstant(m, "MODULE_EXTENSION", PYCDS_MODULE_EXTENSION) <
            0 ||
        PyModule_AddIntConstant(m, "MODULE_ABSENT", PYCDS_MODULE_ABSENT) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_UNIT", PYCDS_MODULE_UNIT) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_UNIT_STARTS",
                                PYCDS_MODULE_UNIT_STARTS) < 0 ||
        add_unit_suffix(m) < 0)
        goto error;
    return m;
error:
    Py_DECREF(m);
    return NULL;
}
