/*
 * say.c - pycds's explanations, straight to file descriptor 2 (say.h).
 */
#include "say.h"

#include <Python.h>
#include <stdarg.h>
#include <unistd.h>

void pycds_say(const char *format, ...)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback); /* a pending error stays */
    va_list args;
    va_start(args, format);
    PyObject *line = PyUnicode_FromFormatV(format, args);
    va_end(args);
    PyObject *bytes =
        line ? PyUnicode_AsEncodedString(line, "utf-8", "backslashreplace")
             : NULL;
    if (bytes) {
        const char *at = PyBytes_AS_STRING(bytes);
        Py_ssize_t left = PyBytes_GET_SIZE(bytes);
        while (left > 0) {
            ssize_t n = write(2, at, (size_t)left);
            if (n <= 0)
                break;
            at += n;
            left -= n;
        }
    }
    Py_XDECREF(bytes);
    Py_XDECREF(line);
    PyErr_Clear();
    PyErr_Restore(type, value, traceback);
}
