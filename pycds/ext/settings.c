/*
 * settings.c - the code settings an archive records (see settings.h).
 */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Version of the record's keys: another version is refused. */
#define RECORD_FORMAT 1

typedef struct code_settings {
    long optimize;    /* sys.flags.optimize */
    int debug_ranges; /* column positions in code objects */
} code_settings;

static int flag(PyObject *flags, const char *name, long *value)
{
    PyObject *item = PyObject_GetAttrString(flags, name);
    if (!item)
        return -1;
    *value = PyLong_AsLong(item);
    Py_DECREF(item);
    return *value == -1 && PyErr_Occurred() ? -1 : 0;
}

/* As CPython's configuration decides code_debug_ranges: off with
 * -X no_debug_ranges, or with PYTHONNODEBUGRANGES unless -E. */
static int current(code_settings *out)
{
    PyObject *flags = PySys_GetObject("flags"); /* borrowed */
    long ignore_environment;
    if (!flags || flag(flags, "optimize", &out->optimize) < 0 ||
        flag(flags, "ignore_environment", &ignore_environment) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "sys.flags is missing");
        return -1;
    }
    PyObject *xoptions = PySys_GetXOptions(); /* borrowed */
    int no_ranges =
        xoptions ? PyDict_GetItemString(xoptions, "no_debug_ranges") != NULL
                 : 0;
    const char *env = getenv("PYTHONNODEBUGRANGES");
    if (!ignore_environment && env && env[0])
        no_ranges = 1;
    out->debug_ranges = !no_ranges;
    return 0;
}

static int format_record(const code_settings *s, char *out, size_t size)
{
    return snprintf(out, size, "debug_ranges=%s\noptimize=%ld\npycds=%d\n",
                    s->debug_ranges ? "True" : "False", s->optimize,
                    RECORD_FORMAT);
}

PyObject *pycds_settings_record(void)
{
    code_settings s;
    if (current(&s) < 0)
        return NULL;
    char text[128];
    int n = format_record(&s, text, sizeof text);
    return PyBytes_FromStringAndSize(text, n);
}

/* The value of `key` in the record: a pointer to it and its length, or
 * NULL when the key is not there. */
static const char *lookup(const char *record, size_t size, const char *key,
                          size_t *length)
{
    size_t key_length = strlen(key);
    for (const char *line = record; line < record + size;) {
        const char *end = memchr(line, '\n', (size_t)(record + size - line));
        if (!end)
            end = record + size;
        if ((size_t)(end - line) > key_length &&
            memcmp(line, key, key_length) == 0 && line[key_length] == '=') {
            *length = (size_t)(end - line) - key_length - 1;
            return line + key_length + 1;
        }
        line = end + 1;
    }
    return NULL;
}

static int same(const char *value, size_t length, const char *expected)
{
    return value && length == strlen(expected) &&
           memcmp(value, expected, length) == 0;
}

int pycds_settings_mismatch(const char *record, size_t size, char *reason,
                            size_t reason_size)
{
    code_settings s;
    if (current(&s) < 0)
        return -1;
    if (!record || size == 0 || memchr(record, 0, size)) {
        snprintf(reason, reason_size, "archive metadata unreadable");
        return 1;
    }
    char expected[32];
    size_t length = 0;
    const char *value = lookup(record, size, "pycds", &length);
    snprintf(expected, sizeof expected, "%d", RECORD_FORMAT);
    if (!same(value, length, expected)) {
        snprintf(reason, reason_size,
                 "archive metadata of another pycds format");
        return 1;
    }
    struct {
        const char *key;
        char value[32];
    } checks[2] = {{"optimize", ""}, {"debug_ranges", ""}};
    snprintf(checks[0].value, sizeof checks[0].value, "%ld", s.optimize);
    snprintf(checks[1].value, sizeof checks[1].value, "%s",
             s.debug_ranges ? "True" : "False");
    for (size_t i = 0; i < 2; i++) {
        value = lookup(record, size, checks[i].key, &length);
        if (!same(value, length, checks[i].value)) {
            snprintf(reason, reason_size,
                     "archive made with %s=%.*s, this process has %s",
                     checks[i].key,
                     value ? (int)(length > 32 ? 32 : length) : 4,
                     value ? value : "None", checks[i].value);
            return 1;
        }
    }
    return 0;
}

static PyObject *code_settings_record(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    return pycds_settings_record();
}

static PyObject *settings_mismatch(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer record;
    if (PyObject_GetBuffer(arg, &record, PyBUF_SIMPLE) < 0)
        return NULL;
    char reason[256];
    int result = pycds_settings_mismatch(record.buf, (size_t)record.len, reason,
                                         sizeof reason);
    PyBuffer_Release(&record);
    if (result < 0)
        return NULL;
    if (result == 0)
        Py_RETURN_NONE;
    return PyUnicode_FromString(reason);
}

PyMethodDef pycds_settings_methods[] = {
    {"code_settings", code_settings_record, METH_NOARGS,
     "code_settings() -> bytes: this process's code settings (-O,\n"
     "-X no_debug_ranges) as an archive's user section records them."},
    {"settings_mismatch", settings_mismatch, METH_O,
     "settings_mismatch(record) -> str or None: why an archive made under\n"
     "the recorded settings does not fit this process, or None."},
    {NULL, NULL, 0, NULL},
};
