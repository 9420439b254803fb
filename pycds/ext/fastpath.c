/*
 * fastpath.c - the fast-path record, written and read (fastpath.h).
 */
#include "fastpath.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pycds_fastpath_next(const char **at, const char *end,
                        pycds_fastpath_line *line)
{
    const char *start = *at;
    if (start >= end)
        return 0;
    const char *eol = memchr(start, '\n', (size_t)(end - start));
    if (!eol || eol - start < 2 || start[1] != '\t')
        return -1;
    const char *field = start + 2;
    line->kind = (pycds_fastpath_kind)start[0];
    line->state = 0;
    if (line->kind == PYCDS_FASTPATH_EARLIER ||
        line->kind == PYCDS_FASTPATH_STRICT) {
        char *after;
        line->state = strtoll(field, &after, 10);
        if (after == field || after >= eol || *after != '\t' ||
            line->state < -2)
            return -1;
        field = after + 1;
    } else if (line->kind != PYCDS_FASTPATH_PREFIX) {
        return -1;
    }
    line->path = field;
    line->path_size = (size_t)(eol - field);
    *at = eol + 1;
    return 1;
}

/* Append "KIND\t[STATE\t]PATH\n"; 0, or -1 when the path cannot be
 * recorded (newline or NUL) or on error (exception set). */
static int append_line(PyObject *parts, char kind, PyObject *state,
                       PyObject *path)
{
    PyObject *encoded = PyUnicode_EncodeFSDefault(path);
    if (!encoded)
        return -1;
    const char *bytes = PyBytes_AS_STRING(encoded);
    Py_ssize_t size = PyBytes_GET_SIZE(encoded);
    if (memchr(bytes, '\n', (size_t)size) || memchr(bytes, 0, (size_t)size)) {
        Py_DECREF(encoded);
        return -1;
    }
    char head[32];
    int head_size = state ? snprintf(head, sizeof head, "%c\t%lld\t", kind,
                                     PyLong_AsLongLong(state))
                          : snprintf(head, sizeof head, "%c\t", kind);
    PyObject *line =
        PyErr_Occurred()
            ? NULL
            : PyBytes_FromStringAndSize(NULL, head_size + size + 1);
    if (line) {
        char *out = PyBytes_AS_STRING(line);
        memcpy(out, head, (size_t)head_size);
        memcpy(out + head_size, bytes, (size_t)size);
        out[head_size + size] = '\n';
    }
    Py_DECREF(encoded);
    if (!line || PyList_Append(parts, line) < 0) {
        Py_XDECREF(line);
        return -1;
    }
    Py_DECREF(line);
    return 0;
}

PyObject *pycds_fastpath_encode(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *prefix, *earlier, *strict;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &prefix, &PyList_Type,
                          &earlier, &PyList_Type, &strict))
        return NULL;
    PyObject *parts = PyList_New(0);
    if (!parts)
        return NULL;
    int failed = 0;
    for (Py_ssize_t i = 0; !failed && i < PyList_GET_SIZE(prefix); i++)
        failed = append_line(parts, PYCDS_FASTPATH_PREFIX, NULL,
                             PyList_GET_ITEM(prefix, i)) < 0;
    PyObject *pairs[2] = {earlier, strict};
    char kinds[2] = {PYCDS_FASTPATH_EARLIER, PYCDS_FASTPATH_STRICT};
    for (int k = 0; k < 2 && !failed; k++)
        for (Py_ssize_t i = 0; !failed && i < PyList_GET_SIZE(pairs[k]); i++) {
            PyObject *pair = PyList_GET_ITEM(pairs[k], i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                pycds_raise(PYCDS_ERROR_TYPE, "(state, path) pairs needed");
                failed = 1;
                break;
            }
            failed = append_line(parts, kinds[k], PyTuple_GET_ITEM(pair, 0),
                                 PyTuple_GET_ITEM(pair, 1)) < 0;
        }
    PyObject *result = NULL;
    if (!failed) {
        PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
        result = empty ? PyObject_CallMethod(empty, "join", "O", parts) : NULL;
        Py_XDECREF(empty);
    } else if (!PyErr_Occurred()) {
        result = PyBytes_FromStringAndSize(NULL, 0); /* not recordable */
    }
    Py_DECREF(parts);
    return result;
}
