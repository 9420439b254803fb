/*
 * runlib.c - librun's rules for Python: the server computes its key, its
 * directory and its options with the very functions the client uses, so
 * the two can never disagree on them.
 */
#define _GNU_SOURCE
#include "runlib.h"
#include "error.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "run/run.h"

static PyObject *fail(const run_diag *diag)
{
    return pycds_raise(diag->status == RUN_E_INVALID     ? PYCDS_ERROR_VALUE
                       : diag->status == RUN_E_NOT_FOUND ? PYCDS_ERROR_NOT_FOUND
                                                         : PYCDS_ERROR_OS,
                       "%s", diag->message);
}

/* A sequence of str or bytes as C strings (valid while `holder` lives). */
static const char **c_strings(PyObject *sequence, PyObject **holder,
                              Py_ssize_t *count)
{
    PyObject *items = PySequence_Fast(sequence, "a sequence is needed");
    if (!items)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    const char **out = PyMem_Calloc((size_t)n + 1, sizeof *out);
    if (!out) {
        Py_DECREF(items);
        pycds_raise(PYCDS_ERROR_MEMORY, NULL);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(items, i);
        out[i] = PyBytes_Check(item) ? PyBytes_AS_STRING(item)
                                     : PyUnicode_AsUTF8(item);
        if (!out[i]) {
            PyMem_Free(out);
            Py_DECREF(items);
            return NULL;
        }
    }
    *holder = items;
    *count = n;
    return out;
}

static PyObject *server_key(PyObject *module, PyObject *args)
{
    (void)module;
    const char *python, *preload, *archive;
    PyObject *options, *env, *hold_options = NULL, *hold_env = NULL;
    if (!PyArg_ParseTuple(args, "sOssO", &python, &options, &preload, &archive,
                          &env))
        return NULL;
    Py_ssize_t n_options, n_env;
    const char **o = c_strings(options, &hold_options, &n_options);
    const char **e = o ? c_strings(env, &hold_env, &n_env) : NULL;
    PyObject *result = NULL;
    if (e) {
        run_key_input input = {python,  o, (int)n_options, preload,
                               archive, e, (size_t)n_env};
        char key[RUN_KEY_SIZE];
        run_diag diag;
        result = run_key(&input, key, &diag) == RUN_OK
                     ? PyUnicode_FromString(key)
                     : fail(&diag);
    }
    PyMem_Free(o);
    PyMem_Free(e);
    Py_XDECREF(hold_options);
    Py_XDECREF(hold_env);
    return result;
}

static PyObject *user_run_dir(PyObject *module, PyObject *args)
{
    (void)module;
    int create = 1;
    if (!PyArg_ParseTuple(args, "|p", &create))
        return NULL;
    char dir[4096];
    run_diag diag;
    if (run_dir(dir, sizeof dir, create, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_DecodeFSDefault(dir);
}

static PyObject *dir_file(PyObject *module, PyObject *args)
{
    (void)module;
    const char *dir, *key, *suffix;
    if (!PyArg_ParseTuple(args, "sss", &dir, &key, &suffix))
        return NULL;
    char path[4096];
    run_diag diag;
    if (run_dir_file(path, sizeof path, dir, key, suffix, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_DecodeFSDefault(path);
}

static PyObject *normalize_preload(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *list = PyUnicode_AsUTF8(arg);
    if (!list)
        return NULL;
    char out[4096];
    run_diag diag;
    if (run_preload_normalize(list, out, sizeof out, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_FromString(out);
}

static PyObject *absolute_path(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *path = PyUnicode_AsUTF8(arg);
    if (!path)
        return NULL;
    char out[4096];
    run_diag diag;
    if (run_absolute_path(path, out, sizeof out, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_DecodeFSDefault(out);
}

static PyObject *parse_command_line(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *argv, *holder = NULL;
    int tty = 0;
    if (!PyArg_ParseTuple(args, "O|p", &argv, &tty))
        return NULL;
    Py_ssize_t n;
    const char **v = c_strings(argv, &holder, &n);
    if (!v)
        return NULL;
    run_cmdline line;
    run_cmdline_parse((int)n, (char *const *)v, tty, &line);
    PyObject *options = PyList_New(line.n_options);
    for (int i = 0; options && i < line.n_options; i++) {
        PyObject *option = PyUnicode_FromString(line.options[i]);
        if (!option) {
            Py_CLEAR(options);
            break;
        }
        PyList_SET_ITEM(options, i, option);
    }
    PyObject *result = NULL;
    if (options)
        result =
            Py_BuildValue("{s:i,s:z,s:N,s:i,s:z}", "mode", (int)line.mode,
                          "target", line.target, "options", options,
                          "first_arg", line.first_arg, "plain", line.plain);
    PyMem_Free(v);
    Py_DECREF(holder);
    return result;
}

static PyObject *write_bundle(PyObject *module, PyObject *args)
{
    (void)module;
    const char *client, *out, *python, *preload, *archive;
    if (!PyArg_ParseTuple(args, "sssss", &client, &out, &python, &preload,
                          &archive))
        return NULL;
    run_diag diag;
    if (run_bundle_write(client, out, python, preload, archive, &diag) !=
        RUN_OK)
        return fail(&diag);
    Py_RETURN_NONE;
}

/* Ask a server for its status, or to stop; its STATUS text. */
static PyObject *server_control(PyObject *module, PyObject *args)
{
    (void)module;
    const char *path;
    int stop = 0;
    if (!PyArg_ParseTuple(args, "s|p", &path, &stop))
        return NULL;
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return pycds_raise_errno(NULL);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
    run_diag diag = {RUN_OK, ""};
    run_frame frame = {0};
    int ok;
    Py_BEGIN_ALLOW_THREADS
        ok = connect(sock, (struct sockaddr *)&address, sizeof address) == 0 &&
             run_send(sock, stop ? RUN_MSG_STOP : RUN_MSG_STATUS_QUERY, NULL, 0,
                      NULL, 0, &diag) == RUN_OK &&
             run_recv(sock, &frame, 5000, &diag) == RUN_OK;
    Py_END_ALLOW_THREADS
    close(sock);
    if (!ok) {
        if (diag.status == RUN_OK)
            return pycds_raise_errno(path);
        return fail(&diag);
    }
    PyObject *text =
        frame.type == RUN_MSG_STATUS && frame.body
            ? PyUnicode_DecodeUTF8(
                  (const char *)frame.body,
                  (Py_ssize_t)strnlen((const char *)frame.body, frame.length),
                  "replace")
            : PyUnicode_FromString("");
    run_frame_release(&frame);
    return text;
}

PyMethodDef pycds_runlib_methods[] = {
    {"server_control", server_control, METH_VARARGS,
     "server_control(socket_path, stop=False) -> str: a server's status\n"
     "(after asking it to stop, with stop)."},
    {"server_key", server_key, METH_VARARGS,
     "server_key(python, options, preload, archive, env) -> str: the key\n"
     "naming the server for these (librun's run_key)."},
    {"run_dir", user_run_dir, METH_VARARGS,
     "run_dir(create=True) -> str: this user's directory of servers,\n"
     "checked private (OSError when it is not)."},
    {"dir_file", dir_file, METH_VARARGS,
     "dir_file(dir, key, suffix) -> str: a server's file in the directory."},
    {"normalize_preload", normalize_preload, METH_O,
     "normalize_preload(list) -> str: dotted names joined by ','."},
    {"absolute_path", absolute_path, METH_O,
     "absolute_path(path) -> str: cwd + '/' + path unless absolute."},
    {"parse_command_line", parse_command_line, METH_VARARGS,
     "parse_command_line(args, stdin_is_tty=False) -> dict: python's\n"
     "command line as pycds-run reads it."},
    {"write_bundle", write_bundle, METH_VARARGS,
     "write_bundle(client, out, python, preload, archive): write a launcher."},
    {NULL, NULL, 0, NULL},
};
