/*
 * error.c - the extension's exceptions, made one way (error.h).
 */
#include "error.h"

#include <stdarg.h>

#include "module_state.h"

static PyObject *class_of(pycds_error_kind kind)
{
    switch (kind) {
    case PYCDS_ERROR_VALUE: return PyExc_ValueError;
    case PYCDS_ERROR_TYPE: return PyExc_TypeError;
    case PYCDS_ERROR_RUNTIME: return PyExc_RuntimeError;
    case PYCDS_ERROR_IMPORT: return PyExc_ImportError;
    case PYCDS_ERROR_OS: return PyExc_OSError;
    case PYCDS_ERROR_NOT_FOUND: return PyExc_FileNotFoundError;
    case PYCDS_ERROR_MEMORY: return PyExc_MemoryError;
    case PYCDS_ERROR_UNSUPPORTED: return pycds_state.unsupported_error;
    case PYCDS_ERROR_UNSERVABLE: return pycds_state.unservable_error;
    }
    return PyExc_RuntimeError;
}

static void raise_v(pycds_error_kind kind, const char *format, va_list args)
{
    if (kind == PYCDS_ERROR_MEMORY && !format)
        PyErr_NoMemory();
    else
        PyErr_FormatV(class_of(kind), format, args);
}

PyObject *pycds_raise(pycds_error_kind kind, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    raise_v(kind, format, args);
    va_end(args);
    return NULL;
}

int pycds_fail(pycds_error_kind kind, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    raise_v(kind, format, args);
    va_end(args);
    return -1;
}

PyObject *pycds_raise_errno(const char *filename)
{
    return filename ? PyErr_SetFromErrnoWithFilename(PyExc_OSError, filename)
                    : PyErr_SetFromErrno(PyExc_OSError);
}

PyObject *pycds_raise_archive(const char *path, const cds_diag *diag,
                              cds_status status)
{
    const char *reason = diag && diag->status == status && diag->message[0]
                             ? diag->message
                             : cds_strerror(status);
    if (!path)
        path = "";
    PyObject *message = *path ? PyUnicode_FromFormat("%s: %s", path, reason)
                              : PyUnicode_FromString(reason);
    if (!message)
        return NULL;
    PyObject *error = PyObject_CallOneArg(pycds_state.archive_error, message);
    Py_DECREF(message);
    if (!error)
        return NULL;
    PyObject *status_obj = PyLong_FromLong((long)status);
    PyObject *reason_obj = PyUnicode_FromString(reason);
    PyObject *path_obj = PyUnicode_DecodeFSDefault(path);
    if (status_obj && reason_obj && path_obj &&
        PyObject_SetAttrString(error, "status", status_obj) == 0 &&
        PyObject_SetAttrString(error, "reason", reason_obj) == 0 &&
        PyObject_SetAttrString(error, "path", path_obj) == 0)
        PyErr_SetObject(pycds_state.archive_error, error);
    Py_XDECREF(status_obj);
    Py_XDECREF(reason_obj);
    Py_XDECREF(path_obj);
    Py_DECREF(error);
    return NULL;
}

PyObject *pycds_raise_status(pycds_error_kind kind, cds_status status,
                             const char *what)
{
    if (status == CDS_E_NOMEM)
        return PyErr_NoMemory();
    return pycds_raise(kind, "%s: %s", what, cds_strerror(status));
}
