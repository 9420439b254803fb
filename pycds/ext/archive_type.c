/*
 * archive_type.c - pycds._cds.Archive: open, validate and query an archive
 * from Python (the importer uses libcds directly; this is for the CLI, the
 * dumper and tests).
 */
#define PY_SSIZE_T_CLEAN
#include "archive_type.h"

#include "error.h"
#include "fingerprint.h"
#include "layout.h"
#include "module_state.h"

static PyObject *archive_new(PyTypeObject *type, PyObject *args,
                             PyObject *kwargs)
{
    static char *keywords[] = {"path", "verify_objects", "any_fingerprint",
                               NULL};
    PyObject *path = NULL;
    int verify = 0, any = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$pp:Archive", keywords,
                                     PyUnicode_FSConverter, &path, &verify,
                                     &any))
        return NULL;
    size_t fp_size;
    const char *fp = pycds_fingerprint(&fp_size);
    unsigned flags = (verify ? CDS_OPEN_VERIFY_ALL : 0) |
                     (any ? CDS_OPEN_ANY_FINGERPRINT : 0);
    cds_archive *archive = NULL;
    cds_diag diag = {0};
    cds_status status;
    Py_BEGIN_ALLOW_THREADS
        status = cds_archive_open(&archive, PyBytes_AS_STRING(path), fp,
                                  fp_size, flags, &diag);
    Py_END_ALLOW_THREADS
    if (status != CDS_OK) {
        pycds_raise_archive(PyBytes_AS_STRING(path), &diag, status);
        Py_DECREF(path);
        return NULL;
    }
    ArchiveObject *self = (ArchiveObject *)type->tp_alloc(type, 0);
    if (!self) {
        cds_archive_close(archive);
        Py_DECREF(path);
        return NULL;
    }
    self->archive = archive;
    self->path = path;
    return (PyObject *)self;
}

static void archive_dealloc(ArchiveObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    cds_archive_close(self->archive);
    Py_XDECREF(self->path);
    type->tp_free(self);
    Py_DECREF(type);
}

static int check_open(ArchiveObject *self)
{
    if (self->archive)
        return 0;
    return pycds_fail(PYCDS_ERROR_VALUE, "archive is closed");
}

static PyObject *archive_close(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    cds_archive_close(self->archive);
    self->archive = NULL;
    Py_RETURN_NONE;
}

static PyObject *archive_enter(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *archive_exit(ArchiveObject *self, PyObject *args)
{
    (void)args;
    return archive_close(self, NULL);
}

static PyObject *string_of(const cds_archive *a, cds_string_ref ref)
{
    size_t size;
    const char *s = cds_archive_string(a, ref, &size);
    return PyUnicode_DecodeFSDefaultAndSize(s, (Py_ssize_t)size);
}

/* The record of module `number` as a dict. */
static PyObject *record_dict(ArchiveObject *self, uint32_t number)
{
    const cds_module_record *r = cds_archive_module(self->archive, number);
    if (!r)
        return pycds_raise_archive(PyBytes_AS_STRING(self->path), NULL,
                                   CDS_E_CORRUPT);
    size_t extra_size;
    const char *extra =
        cds_archive_string(self->archive, r->extra, &extra_size);
    return Py_BuildValue(
        "{sIsNsNsNsNsIsOsOsOsOsLsKsKsKsKsKsIsIsKsK}", "number", number, "name",
        string_of(self->archive, r->name), "origin",
        string_of(self->archive, r->origin), "cached",
        string_of(self->archive, r->cached), "extra",
        PyBytes_FromStringAndSize(extra, (Py_ssize_t)extra_size), "flags",
        r->flags, "is_package",
        (r->flags & CDS_MODULE_PACKAGE) ? Py_True : Py_False, "is_extension",
        (r->flags & PYCDS_MODULE_EXTENSION) ? Py_True : Py_False, "is_absent",
        (r->flags & PYCDS_MODULE_ABSENT) ? Py_True : Py_False, "is_unit",
        (r->flags & PYCDS_MODULE_UNIT) ? Py_True : Py_False, "source_mtime_ns",
        (long long)r->source_mtime_ns, "source_size",
        (unsigned long long)r->source_size, "source_hash",
        (unsigned long long)r->source_hash, "root", (unsigned long long)r->root,
        "objects_begin", (unsigned long long)r->objects_begin, "objects_size",
        (unsigned long long)(r->objects_end - r->objects_begin), "relocations",
        r->reloc_count, "dependencies", r->deps_count, "relocs_offset",
        (unsigned long long)r->relocs_offset, "relocs_size",
        (unsigned long long)r->typed_size + r->internal_size + r->intern_size);
}

static PyObject *archive_find(ArchiveObject *self, PyObject *name)
{
    if (check_open(self) < 0)
        return NULL;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(name, &size);
    if (!utf8)
        return NULL;
    uint32_t number;
    cds_status status =
        cds_archive_find(self->archive, utf8, (size_t)size, &number);
    if (status == CDS_E_NOT_FOUND)
        Py_RETURN_NONE;
    if (status != CDS_OK)
        return pycds_raise_archive(PyBytes_AS_STRING(self->path), NULL, status);
    return record_dict(self, number);
}

static PyObject *archive_modules(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    uint32_t count = cds_archive_module_count(self->archive);
    PyObject *list = PyList_New(count);
    for (uint32_t m = 0; list && m < count; m++) {
        PyObject *record = record_dict(self, m);
        if (!record) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, m, record);
    }
    return list;
}

static PyObject *archive_user(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    size_t size;
    const void *data = cds_archive_user(self->archive, &size);
    return PyBytes_FromStringAndSize(data, (Py_ssize_t)size);
}

static PyObject *archive_verify_objects(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    cds_diag diag = {0};
    cds_status status = cds_archive_verify_objects(self->archive, &diag);
    if (status != CDS_OK)
        return pycds_raise_archive(PyBytes_AS_STRING(self->path), &diag,
                                   status);
    Py_RETURN_NONE;
}

static PyObject *archive_info(ArchiveObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    const cds_header *h = cds_archive_header(self->archive);
    return Py_BuildValue(
        "{sIsKsKsKsLsIsy#}", "format_version", h->format_version, "file_size",
        (unsigned long long)h->file_size, "base_address",
        (unsigned long long)h->base_address, "mapped_address",
        (unsigned long long)(uintptr_t)cds_archive_base(self->archive), "delta",
        (long long)cds_archive_delta(self->archive), "module_count",
        h->module_count, "fingerprint", (const char *)h->fingerprint,
        (Py_ssize_t)h->fingerprint_size);
}

static PyMethodDef archive_methods[] = {
    {"find", (PyCFunction)archive_find, METH_O,
     "find(name) -> dict or None: the record of an archived module."},
    {"modules", (PyCFunction)archive_modules, METH_NOARGS,
     "modules() -> list of every module record, in archive order."},
    {"info", (PyCFunction)archive_info, METH_NOARGS,
     "info() -> dict: header fields and where the archive is mapped."},
    {"user", (PyCFunction)archive_user, METH_NOARGS,
     "user() -> bytes: the archive's user section."},
    {"verify_objects", (PyCFunction)archive_verify_objects, METH_NOARGS,
     "verify_objects(): checksum the object region, ArchiveError if bad."},
    {"close", (PyCFunction)archive_close, METH_NOARGS, "Unmap the archive."},
    {"__enter__", (PyCFunction)archive_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)archive_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot archive_slots[] = {
    {Py_tp_doc,
     "Archive(path, *, verify_objects=False, any_fingerprint=False)\n\n"
     "Open, validate and map a pycds archive made by this interpreter build.\n"
     "Raises ArchiveError with a one-line reason when it is refused."},
    {Py_tp_new, archive_new},
    {Py_tp_dealloc, archive_dealloc},
    {Py_tp_methods, archive_methods},
    {0, NULL},
};

PyType_Spec pycds_archive_spec = {
    .name = "pycds._cds.Archive",
    .basicsize = sizeof(ArchiveObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = archive_slots,
};
