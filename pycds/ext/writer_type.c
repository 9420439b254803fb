/*
 * writer_type.c - pycds._cds.Writer: build an archive from Python.
 *
 * A thin binding of the libcds writer.  Module roots are given as offsets
 * returned by the allocation methods, since Python has no pointers.
 */
#include "compat.h"

#include "error.h"
#include "copier.h"
#include "fingerprint.h"
#include "layout.h"
#include "module_state.h"

typedef struct {
    PyObject_HEAD
    cds_writer *writer;
    pycds_copier *copier;
    int in_module;
    uint32_t module;
} WriterObject;

static int check_open(WriterObject *self)
{
    if (self->writer)
        return 0;
    return pycds_fail(PYCDS_ERROR_VALUE, "writer is closed");
}

static PyObject *writer_new(PyTypeObject *type, PyObject *args,
                            PyObject *kwargs)
{
    static char *keywords[] = {"base", "max_size", NULL};
    unsigned long long base = 0, max_size = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$KK:Writer", keywords,
                                     &base, &max_size))
        return NULL;
    cds_writer_options options = {.base_address = base,
                                  .max_object_size = max_size};
    cds_writer *writer;
    cds_diag diag = {0};
    cds_status status = cds_writer_create(&writer, &options, &diag);
    if (status != CDS_OK)
        return pycds_raise_archive("", &diag, status);
    WriterObject *self = (WriterObject *)type->tp_alloc(type, 0);
    if (!self) {
        cds_writer_destroy(writer);
        return NULL;
    }
    self->writer = writer;
    self->copier = pycds_copier_new(writer);
    if (!self->copier) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void writer_dealloc(WriterObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    pycds_copier_free(self->copier);
    cds_writer_destroy(self->writer);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *writer_begin_module(WriterObject *self, PyObject *args,
                                     PyObject *kwargs)
{
    static char *keywords[] = {"name",        "origin",          "cached",
                               "is_package",  "source_mtime_ns", "source_size",
                               "source_hash", "extra",           "is_extension",
                               "is_absent",   "is_unit",         "starts",
                               NULL};
    /* The name may hold a NUL (a unit record's does), so it is taken with
     * its size. */
    const char *name, *origin = "", *cached = "";
    Py_ssize_t name_size;
    int is_package = 0, is_extension = 0, is_absent = 0, is_unit = 0,
        starts = 0;
    long long mtime = 0;
    unsigned long long size = 0, hash = 0;
    Py_buffer extra = {0};
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "s#|$sspLKKy*pppp:begin_module", keywords, &name,
            &name_size, &origin, &cached, &is_package, &mtime, &size, &hash,
            &extra, &is_extension, &is_absent, &is_unit, &starts))
        return NULL;
    if (starts && (is_extension || is_absent)) {
        PyBuffer_Release(&extra);
        return pycds_raise(PYCDS_ERROR_VALUE,
                           "only a unit or a module's code starts");
    }
    if (is_extension + is_absent + is_unit > 1) {
        PyBuffer_Release(&extra);
        return pycds_raise(PYCDS_ERROR_VALUE,
                           "a record is an extension module's, an absent "
                           "name's or a unit, only one of them");
    }
    if (check_open(self) < 0) {
        PyBuffer_Release(&extra);
        return NULL;
    }
    cds_module_info info = {
        .name = name,
        .name_size = (size_t)name_size,
        .origin = origin,
        .cached = cached,
        .extra = extra.buf,
        .extra_size = extra.buf ? (size_t)extra.len : 0,
        .flags = (is_package ? CDS_MODULE_PACKAGE : 0) |
                 (is_extension ? PYCDS_MODULE_EXTENSION : 0) |
                 (is_absent ? PYCDS_MODULE_ABSENT : 0) |
                 (is_unit ? PYCDS_MODULE_UNIT : 0) |
                 (starts ? PYCDS_MODULE_UNIT_STARTS : 0),
        .source_mtime_ns = mtime,
        .source_size = size,
        .source_hash = hash,
    };
    uint32_t number;
    cds_status status = cds_writer_begin_module(self->writer, &info, &number);
    PyBuffer_Release(&extra);
    if (status != CDS_OK) {
        /* A unit's name shows its NUL as \0 (Python's buffer ends in one). */
        char shown[512];
        size_t head = strlen(name);
        snprintf(shown, sizeof shown, "%s%s%s", name,
                 head < (size_t)name_size ? "\\0" : "",
                 head < (size_t)name_size ? name + head + 1 : "");
        return pycds_raise_status(PYCDS_ERROR_VALUE, status, shown);
    }
    self->in_module = 1;
    self->module = number;
    return PyLong_FromUnsignedLong(number);
}

static PyObject *writer_add_code(WriterObject *self, PyObject *code)
{
    if (check_open(self) < 0)
        return NULL;
    if (!self->in_module)
        return pycds_raise(PYCDS_ERROR_VALUE, "add_code: no module begun");
    void *root = pycds_copier_copy_module(self->copier, self->module, code);
    if (!root)
        return NULL;
    return PyLong_FromUnsignedLongLong(cds_writer_offset(self->writer, root));
}

static PyObject *writer_add_bytes(WriterObject *self, PyObject *arg)
{
    Py_buffer data;
    if (check_open(self) < 0 ||
        PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    void *p = cds_writer_alloc(self->writer, (size_t)data.len, 8);
    if (p)
        memcpy(p, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    if (!p)
        return pycds_raise_status(PYCDS_ERROR_VALUE, CDS_E_FULL, "add_bytes");
    return PyLong_FromUnsignedLongLong(cds_writer_offset(self->writer, p));
}

static PyObject *writer_end_module(WriterObject *self, PyObject *arg)
{
    unsigned long long root = PyLong_AsUnsignedLongLong(arg);
    if ((root == (unsigned long long)-1 && PyErr_Occurred()) ||
        check_open(self) < 0)
        return NULL;
    void *p = cds_writer_pointer(self->writer, root);
    cds_status status =
        p ? cds_writer_end_module(self->writer, p) : CDS_E_INVALID_ARGUMENT;
    if (status != CDS_OK)
        return pycds_raise_status(PYCDS_ERROR_VALUE, status, "end_module");
    pycds_copier_commit(self->copier);
    self->in_module = 0;
    Py_RETURN_NONE;
}

static PyObject *writer_cancel_module(WriterObject *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    cds_status status = cds_writer_cancel_module(self->writer);
    if (status != CDS_OK)
        return pycds_raise_status(PYCDS_ERROR_VALUE, status, "cancel_module");
    pycds_copier_rollback(self->copier);
    self->in_module = 0;
    Py_RETURN_NONE;
}

static PyObject *writer_set_user(WriterObject *self, PyObject *arg)
{
    Py_buffer data;
    if (check_open(self) < 0 ||
        PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    cds_status status =
        cds_writer_set_user(self->writer, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    if (status != CDS_OK)
        return pycds_raise_status(PYCDS_ERROR_VALUE, status, "set_user");
    Py_RETURN_NONE;
}

static PyObject *writer_finish(WriterObject *self, PyObject *args,
                               PyObject *kwargs)
{
    static char *keywords[] = {"path", "fingerprint", NULL};
    PyObject *path = NULL;
    Py_buffer fingerprint = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$y*:finish", keywords,
                                     PyUnicode_FSConverter, &path,
                                     &fingerprint))
        return NULL;
    if (check_open(self) < 0) {
        Py_DECREF(path);
        PyBuffer_Release(&fingerprint);
        return NULL;
    }
    size_t fp_size;
    const char *fp = pycds_fingerprint(&fp_size);
    if (fingerprint.buf) {
        fp = fingerprint.buf;
        fp_size = (size_t)fingerprint.len;
    }
    cds_diag diag = {0};
    cds_status status;
    Py_BEGIN_ALLOW_THREADS
        status = cds_writer_finish(self->writer, PyBytes_AS_STRING(path), fp,
                                   fp_size, &diag);
    Py_END_ALLOW_THREADS
    PyObject *result =
        status == CDS_OK
            ? Py_NewRef(Py_None)
            : pycds_raise_archive(PyBytes_AS_STRING(path), &diag, status);
    Py_DECREF(path);
    PyBuffer_Release(&fingerprint);
    return result;
}

static PyObject *writer_object_size(WriterObject *self, void *closure)
{
    (void)closure;
    if (check_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(cds_writer_object_size(self->writer));
}

static PyObject *writer_stats(WriterObject *self, void *closure)
{
    (void)closure;
    pycds_copy_stats stats = pycds_copier_stats(self->copier);
    return Py_BuildValue("{sKsKsKsK}", "objects",
                         (unsigned long long)stats.objects, "shared",
                         (unsigned long long)stats.shared, "codes",
                         (unsigned long long)stats.codes, "once",
                         (unsigned long long)stats.once);
}

static PyObject *writer_close(WriterObject *self, PyObject *unused)
{
    (void)unused;
    cds_writer_destroy(self->writer);
    self->writer = NULL;
    Py_RETURN_NONE;
}

static PyMethodDef writer_methods[] = {
    {"begin_module", (PyCFunction)(void (*)(void))writer_begin_module,
     METH_VARARGS | METH_KEYWORDS,
     "begin_module(name, *, origin='', cached='', is_package=False,\n"
     "             source_mtime_ns=0, source_size=0, source_hash=0,\n"
     "             extra=b'', is_extension=False, is_absent=False,\n"
     "             is_unit=False, starts=False) -> module number\n"
     "A unit's record is named NAME + '\\0unit' and holds the unit in extra."},
    {"add_code", (PyCFunction)writer_add_code, METH_O,
     "add_code(code) -> root offset: deep-copy the module's code object"},
    {"add_bytes", (PyCFunction)writer_add_bytes, METH_O,
     "add_bytes(data) -> file offset of a copy of data in the object region"},
    {"end_module", (PyCFunction)writer_end_module, METH_O,
     "end_module(root_offset): finish the current module"},
    {"cancel_module", (PyCFunction)writer_cancel_module, METH_NOARGS,
     "cancel_module(): drop the module being built"},
    {"set_user", (PyCFunction)writer_set_user, METH_O,
     "set_user(data): bytes for the archive's user section"},
    {"finish", (PyCFunction)(void (*)(void))writer_finish,
     METH_VARARGS | METH_KEYWORDS,
     "finish(path, *, fingerprint=None): write the archive atomically"},
    {"close", (PyCFunction)writer_close, METH_NOARGS,
     "close(): release the arena"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef writer_getset[] = {
    {"object_size", (getter)writer_object_size, NULL,
     "bytes of object region used so far", NULL},
    {"stats", (getter)writer_stats, NULL,
     "copier counters: objects, shared references, code objects", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot writer_slots[] = {
    {Py_tp_doc, "Writer(*, base=0, max_size=0)\n\n"
                "Build an archive whose objects live at a fixed address."},
    {Py_tp_new, writer_new},
    {Py_tp_dealloc, writer_dealloc},
    {Py_tp_methods, writer_methods},
    {Py_tp_getset, writer_getset},
    {0, NULL},
};

PyType_Spec pycds_writer_spec = {
    .name = "pycds._cds.Writer",
    .basicsize = sizeof(WriterObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = writer_slots,
};
