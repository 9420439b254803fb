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
#include "run/server.h"
#include "run/variables.h"

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

/* The server file called name (RUN_FILE_*), or -1 with ValueError. */
static int file_named(const char *name)
{
    int which = run_server_file_by_name(name);
    if (which < 0)
        pycds_raise(PYCDS_ERROR_VALUE, "no server file called '%s'", name);
    return which;
}

static PyObject *key_file(PyObject *module, PyObject *args)
{
    (void)module;
    const char *dir, *key, *name;
    if (!PyArg_ParseTuple(args, "sss", &dir, &key, &name))
        return NULL;
    int which = file_named(name);
    if (which < 0)
        return NULL;
    char path[4096];
    run_diag diag;
    if (run_server_file_path(path, sizeof path, dir, key,
                             (run_server_file)which, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_DecodeFSDefault(path);
}

static PyObject *server_file(PyObject *module, PyObject *args)
{
    (void)module;
    const char *socket_path, *name;
    if (!PyArg_ParseTuple(args, "ss", &socket_path, &name))
        return NULL;
    int which = file_named(name);
    if (which < 0)
        return NULL;
    char path[4096];
    run_diag diag;
    if (run_server_file_beside(path, sizeof path, socket_path,
                               (run_server_file)which, &diag) != RUN_OK)
        return fail(&diag);
    return PyUnicode_DecodeFSDefault(path);
}

static PyObject *log_prefix(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    char prefix[128];
    size_t n = run_log_prefix(prefix, sizeof prefix);
    return PyUnicode_FromStringAndSize(prefix, (Py_ssize_t)n);
}

static PyObject *note_failure(PyObject *module, PyObject *args)
{
    (void)module;
    const char *path, *why;
    if (!PyArg_ParseTuple(args, "ss", &path, &why))
        return NULL;
    run_diag diag;
    if (run_failed_note_write(path, why, &diag) != RUN_OK)
        return fail(&diag);
    Py_RETURN_NONE;
}

static PyObject *check_pool(PyObject *module, PyObject *arg)
{
    (void)module;
    long pool = PyLong_AsLong(arg);
    if (pool == -1 && PyErr_Occurred())
        return NULL;
    run_diag diag;
    if (run_pool_check(pool, &diag) != RUN_OK)
        return fail(&diag);
    return PyLong_FromLong(pool);
}

PyObject *pycds_string_list(const char *const *strings, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *item = PyUnicode_DecodeFSDefault(strings[i]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *server_command(PyObject *module, PyObject *args)
{
    (void)module;
    const char *python, *preload, *archive;
    PyObject *options, *holder = NULL;
    if (!PyArg_ParseTuple(args, "sOss", &python, &options, &preload, &archive))
        return NULL;
    Py_ssize_t n_options;
    const char **o = c_strings(options, &holder, &n_options);
    if (!o)
        return NULL;
    const char *argv[RUN_SERVE_MAX_ARGS];
    int n = n_options > RUN_MAX_OPTIONS
                ? -1
                : run_server_command(python, o, (int)n_options, preload,
                                     archive, argv);
    PyObject *result =
        n < 0 ? pycds_raise(PYCDS_ERROR_VALUE,
                            "more than %d interpreter options", RUN_MAX_OPTIONS)
              : pycds_string_list(argv, (size_t)n);
    PyMem_Free(o);
    Py_DECREF(holder);
    return result;
}

int pycds_report_from_dict(PyObject *fields, run_report *report)
{
    PyObject *name, *value;
    Py_ssize_t at = 0;
    while (PyDict_Next(fields, &at, &name, &value)) {
        const char *key = PyUnicode_AsUTF8(name);
        const char *text = key ? PyUnicode_AsUTF8(value) : NULL;
        if (!text)
            return -1;
        int field = run_report_field_by_name(key);
        if (field < 0) {
            pycds_raise(PYCDS_ERROR_VALUE, "no status field called '%s'", key);
            return -1;
        }
        report->value[field] = text;
    }
    return 0;
}

PyObject *pycds_report_text(const run_report *report)
{
    /* A longer report is cut: it is for people to read. */
    char text[4096];
    run_report_format(report, text, sizeof text);
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
}

static PyObject *status_text(PyObject *module, PyObject *fields)
{
    (void)module;
    if (!PyDict_Check(fields))
        return pycds_raise(PYCDS_ERROR_TYPE, "status_text() needs a dict");
    run_report report = {0};
    if (pycds_report_from_dict(fields, &report) < 0)
        return NULL;
    return pycds_report_text(&report);
}

static PyObject *status_fields(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!text)
        return NULL;
    char *copy = PyMem_Malloc((size_t)n + 1);
    if (!copy)
        return pycds_raise(PYCDS_ERROR_MEMORY, NULL);
    memcpy(copy, text, (size_t)n + 1);
    run_report report;
    run_report_parse(copy, &report);
    PyObject *fields = PyDict_New();
    for (int i = 0; fields && i < RUN_REPORT_FIELD_COUNT; i++) {
        if (!report.value[i])
            continue;
        PyObject *value = PyUnicode_DecodeUTF8(
            report.value[i], (Py_ssize_t)strlen(report.value[i]), "replace");
        if (!value ||
            PyDict_SetItemString(fields, run_report_field_name(i), value)) {
            Py_XDECREF(value);
            Py_CLEAR(fields);
            break;
        }
        Py_DECREF(value);
    }
    PyMem_Free(copy);
    return fields;
}

/* The variable called name, or -1 with ValueError. */
static int variable_named(const char *name)
{
    int variable = run_variable_by_name(name, strlen(name));
    if (variable < 0)
        pycds_raise(PYCDS_ERROR_VALUE,
                    "%s is not one of pycds's variables (librun's table)",
                    name);
    return variable;
}

static PyObject *variable(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *name = PyUnicode_AsUTF8(arg);
    int which = name ? variable_named(name) : -1;
    if (which < 0)
        return NULL;
    const char *value = run_variable_get((run_variable)which);
    if (!value)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(value);
}

static PyObject *variables(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *table = PyTuple_New(RUN_VAR_COUNT);
    for (int i = 0; table && i < RUN_VAR_COUNT; i++) {
        const run_variable_info *info = run_variable_describe(i);
        PyObject *row =
            Py_BuildValue("(szsO)", info->name, info->fallback, info->meaning,
                          info->role == RUN_ENV_KEY ? Py_True : Py_False);
        if (!row) {
            Py_CLEAR(table);
            break;
        }
        PyTuple_SET_ITEM(table, i, row);
    }
    return table;
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
    PyObject *options = pycds_string_list(line.options, (size_t)line.n_options);
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
    {"key_file", key_file, METH_VARARGS,
     "key_file(dir, key, name) -> str: the file called name (a key of\n"
     "SERVER_FILES) of the server for key in the directory."},
    {"server_file", server_file, METH_VARARGS,
     "server_file(socket_path, name) -> str: the file called name of the\n"
     "server listening on socket_path, beside it."},
    {"log_prefix", log_prefix, METH_NOARGS,
     "log_prefix() -> str: the start of a server's log line, now, from\n"
     "this process."},
    {"note_failure", note_failure, METH_VARARGS,
     "note_failure(path, why): leave the note that keeps clients from\n"
     "starting a server that failed to start (OSError)."},
    {"check_pool", check_pool, METH_O,
     "check_pool(n) -> int: n when a server takes a pool of n processes,\n"
     "else ValueError (0 to POOL_MAX)."},
    {"server_command", server_command, METH_VARARGS,
     "server_command(python, options, preload, archive) -> list: the\n"
     "command line a client starts a server with."},
    {"status_text", status_text, METH_O,
     "status_text(fields) -> str: the status report of a dict of fields\n"
     "(names in STATUS_FIELDS), as a server writes it."},
    {"status_fields", status_fields, METH_O,
     "status_fields(text) -> dict: a status report's fields by name."},
    {"variable", variable, METH_O,
     "variable(name) -> str or None: pycds's environment variable name,\n"
     "or its default when unset or empty (ValueError: not in the table)."},
    {"variables", variables, METH_NOARGS,
     "variables() -> tuple: (name, default, meaning, selects_server) of\n"
     "each of pycds's environment variables."},
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

int pycds_runlib_init(PyObject *module)
{
    PyObject *files = PyDict_New();
    for (int i = 0; files && i < RUN_FILE_COUNT; i++) {
        PyObject *suffix =
            PyUnicode_FromString(run_server_file_suffix((run_server_file)i));
        if (!suffix ||
            PyDict_SetItemString(
                files, run_server_file_name((run_server_file)i), suffix) < 0) {
            Py_XDECREF(suffix);
            Py_CLEAR(files);
        } else {
            Py_DECREF(suffix);
        }
    }
    if (!files || PyModule_AddObject(module, "SERVER_FILES", files) < 0) {
        Py_XDECREF(files);
        return -1;
    }
    PyObject *fields = PyTuple_New(RUN_REPORT_FIELD_COUNT);
    for (int i = 0; fields && i < RUN_REPORT_FIELD_COUNT; i++) {
        PyObject *name =
            PyUnicode_FromString(run_report_field_name((run_report_field)i));
        if (!name)
            Py_CLEAR(fields);
        else
            PyTuple_SET_ITEM(fields, i, name);
    }
    if (!fields || PyModule_AddObject(module, "STATUS_FIELDS", fields) < 0) {
        Py_XDECREF(fields);
        return -1;
    }
    if (PyModule_AddIntConstant(module, "IDLE_TIMEOUT_DEFAULT",
                                RUN_IDLE_TIMEOUT_DEFAULT) < 0 ||
        PyModule_AddIntConstant(module, "POOL_MAX", RUN_POOL_MAX) < 0 ||
        PyModule_AddIntConstant(module, "SERVE_LOCK_FD", RUN_SERVE_LOCK_FD) <
            0 ||
        PyModule_AddStringConstant(module, "SERVE_LOCK_FD_OPTION",
                                   RUN_SERVE_LOCK_FD_OPTION) < 0 ||
        PyModule_AddStringConstant(module, "SERVE_KEY_PYTHON_OPTION",
                                   RUN_SERVE_KEY_PYTHON_OPTION) < 0)
        return -1;
    return 0;
}
