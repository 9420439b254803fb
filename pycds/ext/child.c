/*
 * child.c - the program's process, forked from the server: its request,
 * kept as one object (ProgramRequest), and every step of becoming the
 * program that the request decides.  pycds/_child.py does the rest: the
 * script, sys, the program's run and its end.
 *
 * The request is decoded once (librun's run_request_decode) and read from
 * here only; adding a field to the request means librun (run/wire.h,
 * request.c), the client that fills it, and the one place below that
 * applies it.  The steps, in _child.py's order:
 *
 *   specialise()  checks that the program can be served (interpreter
 *                 options, start-up environment, descriptor numbers),
 *                 then takes the client's nice value, CPUs, directory,
 *                 umask, resource limits, environment, signal
 *                 dispositions and mask: Unservable when one cannot be
 *                 had, and the client runs python;
 *   announce()    READY, with a pidfd of this process;
 *   start()       waits for GO, puts the client's descriptors at their
 *                 numbers, tells the server that a program starts, and
 *                 moves the connection high, close-on-exec, to report the
 *                 end.
 *
 * At the end (child_end), every descriptor is closed (so readers of the
 * program's output see its end) before EXIT is sent on the connection,
 * which the program never sees and which is checked to still be the same
 * socket before it is written to.
 */
#define _GNU_SOURCE
#include "compat.h" /* before child.h: Python.h with the internal headers */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "pages.h"
#include "proctitle.h"
#include "run/run.h"
#include "runlib.h"

/* How long the client has to send its request once connected. */
#define REQUEST_TIMEOUT_MS 10000

static const char *const mode_names[RUN_MODE_COUNT] = {
    [RUN_MODE_SCRIPT] = "script",   [RUN_MODE_MODULE] = "module",
    [RUN_MODE_COMMAND] = "command", [RUN_MODE_STDIN] = "stdin",
    [RUN_MODE_REPL] = "repl",
};

/* Where to say that the program starts (the server's count). */
static int started_fd = -1;

/* The connection kept for the final report, and its identity. */
static int report_fd = -1;
static dev_t report_dev;
static ino_t report_ino;

/* The lowest number at least `from` that nothing uses, close-on-exec. */
static int move_high(int fd, int from)
{
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, from);
    if (moved >= 0)
        close(fd);
    return moved;
}

/* Where the server's own descriptors go in a program's process: out of the
 * way of the numbers a program's caller is likely to use. */
static int high_numbers(void)
{
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur > 67 &&
        files.rlim_cur != RLIM_INFINITY)
        return (int)files.rlim_cur - 64;
    return 3;
}

/* ------------------------------------------------------------ the object */

typedef struct {
    PyObject_HEAD
    run_frame frame;     /* the body the request points into; fds[0] is the
                            client's directory until specialise enters it */
    run_request request; /* decoded from frame.body */
    int conn;            /* the client's connection; -1 once moved high */
} ProgramRequest;

static PyTypeObject *request_type;

static void request_dealloc(PyObject *op)
{
    ProgramRequest *self = (ProgramRequest *)op;
    PyTypeObject *type = Py_TYPE(op);
    run_request_free(&self->request);
    run_frame_release(&self->frame);
    PyObject_Free(op);
    Py_DECREF(type);
}

static PyObject *request_mode(PyObject *op, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(
        mode_names[((ProgramRequest *)op)->request.mode]);
}

static PyObject *request_target(PyObject *op, void *closure)
{
    (void)closure;
    return PyUnicode_DecodeFSDefault(((ProgramRequest *)op)->request.target);
}

static PyObject *request_options(PyObject *op, void *closure)
{
    (void)closure;
    const run_request *r = &((ProgramRequest *)op)->request;
    return pycds_string_list(r->options, r->n_options);
}

static PyObject *request_args(PyObject *op, void *closure)
{
    (void)closure;
    const run_request *r = &((ProgramRequest *)op)->request;
    return pycds_string_list(r->args, r->n_args);
}

/* ----------------------------------------------------------- specialise */

/* Whether the request's interpreter options are the server's (a list of
 * str): -1 with an exception set on error. */
static int same_options(const run_request *r, PyObject *options)
{
    if (!PyList_Check(options))
        return pycds_fail(PYCDS_ERROR_TYPE, "options: a list is needed");
    if ((size_t)PyList_GET_SIZE(options) != r->n_options)
        return 0;
    for (uint32_t i = 0; i < r->n_options; i++) {
        PyObject *encoded =
            PyUnicode_EncodeFSDefault(PyList_GET_ITEM(options, i));
        if (!encoded)
            return -1;
        int same = strcmp(PyBytes_AS_STRING(encoded), r->options[i]) == 0;
        Py_DECREF(encoded);
        if (!same)
            return 0;
    }
    return 1;
}

/* Unservable when a start-up variable (run/run.h) differs from the
 * server's environment (a list of bytes "NAME=value"). */
static int check_startup_environment(const run_request *r, PyObject *server)
{
    if (!PyList_Check(server))
        return pycds_fail(PYCDS_ERROR_TYPE, "environment: a list is needed");
    Py_ssize_t n = PyList_GET_SIZE(server);
    const char **entries = PyMem_Calloc((size_t)n + 1, sizeof *entries);
    if (!entries)
        return pycds_fail(PYCDS_ERROR_MEMORY, NULL);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(entries[i] = PyBytes_AsString(PyList_GET_ITEM(server, i)))) {
            PyMem_Free(entries);
            return -1;
        }
    char name[256];
    int differs = run_env_startup_differs(r->env, r->n_env, entries, (size_t)n,
                                          name, sizeof name);
    PyMem_Free(entries);
    if (differs)
        return pycds_fail(PYCDS_ERROR_UNSERVABLE,
                          "%s differs from the server's", name);
    return 0;
}

/* Unservable when a number the client's descriptors will take is held by
 * something preloaded: giving it to the program would pull it from under
 * its owner.  (The descriptors themselves come with GO.) */
static int check_descriptor_numbers(const ProgramRequest *self)
{
    for (uint32_t i = 0; i < self->request.n_fds; i++) {
        int number = self->request.fd_numbers[i];
        if (number > 2 && number != self->conn &&
            number != self->frame.fds[0] && number != started_fd &&
            fcntl(number, F_GETFD) >= 0)
            return pycds_fail(PYCDS_ERROR_UNSERVABLE,
                              "descriptor %d is in use in the server", number);
    }
    return 0;
}

/* The client's nice value and CPUs. */
static int take_scheduling(const run_request *r)
{
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    int refused = errno == 0 && now != r->nice &&
                  setpriority(PRIO_PROCESS, 0, r->nice) != 0;
    if (!refused && r->n_cpu_words > 0) {
        cpu_set_t wanted, current;
        CPU_ZERO(&wanted);
        size_t size = r->n_cpu_words * sizeof(uint64_t);
        memcpy(&wanted, r->cpus, size < sizeof wanted ? size : sizeof wanted);
        refused = sched_getaffinity(0, sizeof current, &current) == 0 &&
                  !CPU_EQUAL(&wanted, &current) &&
                  sched_setaffinity(0, sizeof wanted, &wanted) != 0;
    }
    if (refused)
        return pycds_fail(PYCDS_ERROR_UNSERVABLE,
                          "the caller's nice value or CPUs: %s",
                          strerror(errno));
    return 0;
}

/* The client's directory (by descriptor: the same directory even if its
 * path changed), umask and resource limits. */
static int take_directory_and_limits(ProgramRequest *self)
{
    const run_request *r = &self->request;
    if (fchdir(self->frame.fds[0]) != 0)
        return pycds_fail(PYCDS_ERROR_UNSERVABLE,
                          "cannot enter the caller's directory: %s",
                          strerror(errno));
    close(self->frame.fds[0]);
    self->frame.fds[0] = -1;
    self->frame.n_fds = 0;
    umask((mode_t)r->umask);
    for (uint32_t i = 0; i < r->n_limits; i++) {
        const run_limit *limit = &r->limits[i];
        struct rlimit now;
        if (getrlimit((int)limit->resource, &now) != 0)
            continue; /* a limit this kernel does not have */
        if (now.rlim_cur == limit->soft && now.rlim_max == limit->hard)
            continue;
        /* The main thread's stack and the default size of new threads'
         * stacks were fixed when the server started. */
        if (limit->resource == RLIMIT_STACK)
            return pycds_fail(PYCDS_ERROR_UNSERVABLE,
                              "the caller's stack size limit differs from "
                              "the server's");
        struct rlimit wanted = {(rlim_t)limit->soft, (rlim_t)limit->hard};
        if (setrlimit((int)limit->resource, &wanted) != 0)
            return pycds_fail(PYCDS_ERROR_UNSERVABLE, "resource limit %u: %s",
                              (unsigned)limit->resource, strerror(errno));
    }
    return 0;
}

/*
 * The client's environment, whole, as the process's own (environ) and as
 * os.environ's mapping (posix.environ, which os.environ and os.environb
 * wrap), filled as CPython fills it at start-up: bytes to bytes, the first
 * of duplicate names.  The strings are copied into one block that stays
 * the process's environment for good.
 */
static int take_environment(const run_request *r)
{
    size_t size = ((size_t)r->n_env + 1) * sizeof(char *);
    for (uint32_t i = 0; i < r->n_env; i++)
        size += strlen(r->env[i]) + 1;
    char **block = malloc(size);
    if (!block)
        return pycds_fail(PYCDS_ERROR_MEMORY, NULL);
    char *text = (char *)(block + r->n_env + 1);
    for (uint32_t i = 0; i < r->n_env; i++) {
        size_t length = strlen(r->env[i]) + 1;
        block[i] = memcpy(text, r->env[i], length);
        text += length;
    }
    block[r->n_env] = NULL;

    PyObject *posix = PyImport_ImportModule("posix");
    PyObject *mapping = posix ? PyObject_GetAttrString(posix, "environ") : NULL;
    Py_XDECREF(posix);
    if (!mapping || !PyDict_Check(mapping)) {
        if (mapping)
            pycds_raise(PYCDS_ERROR_TYPE, "posix.environ is not a dict");
        Py_XDECREF(mapping);
        free(block);
        return -1;
    }
    PyDict_Clear(mapping);
    int failed = 0;
    for (uint32_t i = 0; i < r->n_env && !failed; i++) {
        const char *equals = strchr(block[i], '=');
        if (!equals)
            continue;
        PyObject *name = PyBytes_FromStringAndSize(block[i], equals - block[i]);
        PyObject *value = PyBytes_FromString(equals + 1);
        failed = !name || !value || !PyDict_SetDefault(mapping, name, value);
        Py_XDECREF(name);
        Py_XDECREF(value);
    }
    Py_DECREF(mapping);
    if (failed) {
        free(block);
        return -1;
    }
    environ = block;
    return 0;
}

/* Glibc's own signals (SIGCANCEL, SIGSETXID), never the program's. */
#define GLIBC_SIGNAL_LOW 32
#define GLIBC_SIGNAL_HIGH 33

/*
 * Signal dispositions as python sets them at start-up over what the client
 * inherited: ignored stays ignored; SIGINT raises KeyboardInterrupt;
 * SIGPIPE and SIGXFSZ are ignored; everything else is the default.  Set
 * through the signal module, which keeps its own table of handlers.
 * Signals whose handler was set before Python started (`foreign`: a
 * sanitizer's, a preloaded library's) are python's start-up state too and
 * are left alone.  Then the client's signal mask.
 */
static int take_signals(const run_request *r, uint64_t foreign)
{
    PyObject *module = PyImport_ImportModule("signal");
    if (!module)
        return -1;
    PyObject *get = PyObject_GetAttrString(module, "getsignal");
    PyObject *set = PyObject_GetAttrString(module, "signal");
    PyObject *ignore = PyObject_GetAttrString(module, "SIG_IGN");
    PyObject *deflt = PyObject_GetAttrString(module, "SIG_DFL");
    PyObject *interrupt = PyObject_GetAttrString(module, "default_int_handler");
    Py_DECREF(module);
    int failed = !get || !set || !ignore || !deflt || !interrupt;
    for (int number = 1; number < NSIG && !failed; number++) {
        uint64_t bit = UINT64_C(1) << (number - 1);
        if (number == SIGKILL || number == SIGSTOP ||
            number == GLIBC_SIGNAL_LOW || number == GLIBC_SIGNAL_HIGH ||
            (foreign & bit))
            continue;
        PyObject *wanted =
            number == SIGPIPE || number == SIGXFSZ || (r->ignored_signals & bit)
                ? ignore
            : number == SIGINT ? interrupt
                               : deflt;
        PyObject *now = PyObject_CallFunction(get, "i", number);
        int same = now ? PyObject_RichCompareBool(now, wanted, Py_EQ) : 1;
        Py_XDECREF(now);
        if (same == 0)
            Py_XDECREF(PyObject_CallFunction(set, "iO", number, wanted));
        PyErr_Clear(); /* a signal this system will not have set */
    }
    Py_XDECREF(get);
    Py_XDECREF(set);
    Py_XDECREF(ignore);
    Py_XDECREF(deflt);
    Py_XDECREF(interrupt);
    if (failed)
        return -1;
    sigset_t mask;
    sigemptyset(&mask);
    for (int number = 1; number <= 64; number++)
        if (r->blocked_signals & (UINT64_C(1) << (number - 1)))
            sigaddset(&mask, number);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    return 0;
}

/*
 * specialise(options, environment, foreign_signals): the server's
 * interpreter options (list of str), start-up environment (list of bytes
 * "NAME=value") and the signals handled outside Python when it started (a
 * bit mask, bit n-1 for signal n).
 */
static PyObject *request_specialise(PyObject *op, PyObject *args)
{
    ProgramRequest *self = (ProgramRequest *)op;
    PyObject *options, *environment;
    unsigned long long foreign;
    if (!PyArg_ParseTuple(args, "OOK", &options, &environment, &foreign))
        return NULL;
    if (self->frame.n_fds != 1)
        return pycds_raise(PYCDS_ERROR_RUNTIME, "specialised already");
    int same = same_options(&self->request, options);
    if (same < 0)
        return NULL;
    if (!same)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE,
                           "interpreter options differ from the server's");
    if (check_startup_environment(&self->request, environment) < 0 ||
        check_descriptor_numbers(self) < 0 ||
        take_scheduling(&self->request) < 0 ||
        take_directory_and_limits(self) < 0 ||
        take_environment(&self->request) < 0 ||
        take_signals(&self->request, (uint64_t)foreign) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* refuse(reason): the program cannot be served after all; the client
 * runs python itself. */
static PyObject *request_refuse(PyObject *op, PyObject *arg)
{
    ProgramRequest *self = (ProgramRequest *)op;
    const char *reason = PyUnicode_AsUTF8(arg);
    if (!reason)
        return NULL;
    if (self->conn >= 0)
        run_send(self->conn, RUN_MSG_PLAIN, reason,
                 (uint32_t)strlen(reason) + 1, NULL, 0, NULL);
    Py_RETURN_NONE;
}

/* announce() -> bool: READY, with this process's pid and a pidfd (the
 * client signals the program through it).  False when the client is
 * gone. */
static PyObject *request_announce(PyObject *op, PyObject *unused)
{
    (void)unused;
    ProgramRequest *self = (ProgramRequest *)op;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE, "pidfd_open: %s",
                           strerror(errno));
    unsigned char body[4];
    run_i32_encode((int32_t)getpid(), body);
    run_status sent =
        run_send(self->conn, RUN_MSG_READY, body, 4, &pidfd, 1, NULL);
    close(pidfd);
    return PyBool_FromLong(sent == RUN_OK);
}

/* Put each received descriptor at the client's number for it, inheritable
 * as the client had it, and close 0-2 where the client had nothing. */
static int place_descriptors(const run_request *r, int *fds)
{
    int top = 2;
    for (uint32_t i = 0; i < r->n_fds; i++)
        if (r->fd_numbers[i] > top)
            top = r->fd_numbers[i];
    /* Every received one out of the way of every target number first, so
     * that placing one never closes another still to be placed. */
    for (uint32_t i = 0; i < r->n_fds; i++)
        if ((fds[i] = move_high(fds[i], top + 1)) < 0)
            return -1;
    int present[3] = {0, 0, 0};
    for (uint32_t i = 0; i < r->n_fds; i++) {
        if (dup2(fds[i], r->fd_numbers[i]) < 0)
            return -1;
        close(fds[i]);
        fds[i] = -1;
        if (r->fd_numbers[i] <= 2)
            present[r->fd_numbers[i]] = 1;
    }
    for (int fd = 0; fd <= 2; fd++)
        if (!present[fd])
            close(fd);
    return 0;
}

/*
 * start() -> bool: wait for the client's GO and the descriptors it
 * carries, and put them at their numbers.  False when the client went
 * away instead: the program must not start.  On GO the server hears that
 * a program starts, and the connection moves high, close-on-exec, to
 * report the end.  Both happen before the descriptors are placed: the
 * client may give the program a descriptor at the connection's number or
 * at the started pipe's, and placing it must neither close the connection
 * nor be written to as the pipe.
 */
static PyObject *request_start(PyObject *op, PyObject *unused)
{
    (void)unused;
    ProgramRequest *self = (ProgramRequest *)op;
    if (self->conn < 0)
        return pycds_raise(PYCDS_ERROR_RUNTIME, "started already");
    run_frame go;
    run_status got;
    Py_BEGIN_ALLOW_THREADS
        got = run_recv(self->conn, &go, -1, NULL);
    Py_END_ALLOW_THREADS
    if (got != RUN_OK)
        Py_RETURN_FALSE;
    if (go.type != RUN_MSG_GO || go.n_fds != (int)self->request.n_fds) {
        run_frame_release(&go);
        Py_RETURN_FALSE;
    }
    if (started_fd >= 0) {
        int32_t pid = (int32_t)getpid();
        ssize_t written = write(started_fd, &pid, sizeof pid);
        (void)written; /* only a count */
        close(started_fd);
        started_fd = -1;
    }
    /* Above every number the program's descriptors take. */
    int top = 2;
    for (uint32_t i = 0; i < self->request.n_fds; i++)
        if (self->request.fd_numbers[i] > top)
            top = self->request.fd_numbers[i];
    int high = high_numbers();
    int moved = move_high(self->conn, high > top ? high : top + 1);
    if (moved < 0) {
        /* No number above them (the descriptor limit): no report, rather
         * than a connection a placed descriptor could replace. */
        close(self->conn);
    }
    self->conn = -1;
    struct stat st;
    if (moved >= 0 && fstat(moved, &st) == 0) {
        report_fd = moved;
        report_dev = st.st_dev;
        report_ino = st.st_ino;
    }
    int placed = place_descriptors(&self->request, go.fds);
    int saved = errno;
    run_frame_release(&go); /* what placing left open, on failure */
    if (placed < 0) {
        errno = saved;
        return pycds_raise_errno(NULL);
    }
    Py_RETURN_TRUE;
}

static PyGetSetDef request_getset[] = {
    {"mode", request_mode, NULL,
     "'script', 'module', 'command', 'stdin' or 'repl'.", NULL},
    {"target", request_target, NULL,
     "The script's path, the module or the command; for stdin and the\n"
     "REPL, sys.argv[0].",
     NULL},
    {"options", request_options, NULL, "The interpreter options, normalised.",
     NULL},
    {"args", request_args, NULL, "sys.argv[1:].", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef request_methods[] = {
    {"specialise", request_specialise, METH_VARARGS,
     "specialise(options, environment, foreign_signals): check, then take\n"
     "the client's scheduling, directory, umask, limits, environment and\n"
     "signals (Unservable when one cannot be had)."},
    {"refuse", request_refuse, METH_O,
     "refuse(reason): python must run this program."},
    {"announce", request_announce, METH_NOARGS,
     "announce() -> bool: READY, with a pidfd."},
    {"start", request_start, METH_NOARGS,
     "start() -> bool: wait for GO; the client's descriptors at their\n"
     "numbers."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot request_slots[] = {
    {Py_tp_dealloc, request_dealloc},
    {Py_tp_getset, request_getset},
    {Py_tp_methods, request_methods},
    {Py_tp_doc, "A program's request, decoded once, in its process (made "
                "only by the server's loop)."},
    {0, NULL},
};

static PyType_Spec request_spec = {
    .name = "pycds._cds.ProgramRequest",
    .basicsize = sizeof(ProgramRequest),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = request_slots,
};

int pycds_child_init(PyObject *module)
{
    if (!request_type)
        request_type = (PyTypeObject *)PyType_FromSpec(&request_spec);
    if (!request_type)
        return -1;
    return PyModule_AddObjectRef(module, "ProgramRequest",
                                 (PyObject *)request_type);
}

PyObject *pycds_child_receive(int conn, int started)
{
    started_fd = started >= 0 ? move_high(started, high_numbers()) : -1;
    run_frame frame;
    run_request request;
    run_diag diag;
    if (run_recv(conn, &frame, REQUEST_TIMEOUT_MS, &diag) != RUN_OK)
        _exit(0); /* the client went away: nothing was started */
    if (frame.type != RUN_MSG_REQUEST ||
        run_request_decode(frame.body, frame.length, &request, &diag) !=
            RUN_OK ||
        frame.n_fds != 1) {
        const char *why = frame.type != RUN_MSG_REQUEST ? "expected a request"
                          : frame.n_fds != 1
                              ? "the request carries no current directory"
                              : diag.message;
        run_send(conn, RUN_MSG_PLAIN, why, (uint32_t)strlen(why) + 1, NULL, 0,
                 NULL);
        _exit(0);
    }
    ProgramRequest *self = PyObject_New(ProgramRequest, request_type);
    if (!self) {
        PyErr_Print();
        _exit(0);
    }
    self->frame = frame;
    self->request = request;
    self->conn = conn;
    return (PyObject *)self;
}

/* ------------------------------------------------- the process's ending */

/* child_forget_report(): in a process the program forked, the report
 * channel is not its own. */
static PyObject *child_forget_report(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    if (report_fd >= 0) {
        struct stat st;
        if (fstat(report_fd, &st) == 0 && st.st_dev == report_dev &&
            st.st_ino == report_ino)
            close(report_fd);
        report_fd = -1;
    }
    Py_RETURN_NONE;
}

/*
 * child_end(code, report): what exit() does that os._exit does not (the C
 * library's buffered output is written), then, with report, close every
 * descriptor and tell the client the program exited with code, if the
 * report channel is still ours (the program may have closed it; the server
 * reports then).
 */
static PyObject *child_end(PyObject *module, PyObject *args)
{
    (void)module;
    int code, report;
    if (!PyArg_ParseTuple(args, "ip", &code, &report))
        return NULL;
    fflush(NULL);
    if (!report)
        Py_RETURN_NONE;
    int fd = report_fd;
    struct stat st;
    int ours = fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == report_dev &&
               st.st_ino == report_ino;
    if (ours) {
        if (fd > 0)
            syscall(SYS_close_range, 0, fd - 1, 0);
        syscall(SYS_close_range, fd + 1, ~0U, 0);
        run_exit how = {0, code, 0, 0};
        unsigned char body[16];
        run_exit_encode(&how, body);
        run_send(fd, RUN_MSG_EXIT, body, sizeof body, NULL, 0, NULL);
    } else {
        syscall(SYS_close_range, 0, ~0U, 0);
    }
    Py_RETURN_NONE;
}

/* child_learn_pages(path): list this process's own pages for the pool. */
static PyObject *child_learn_pages(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *path = PyUnicode_AsUTF8(arg);
    if (!path)
        return NULL;
    if (pycds_pages_learn(path) != 0)
        return pycds_raise_errno(path);
    Py_RETURN_NONE;
}

/* show_command_line(argv) -> bool: /proc/self/cmdline reads argv (a list
 * of bytes), as python's would (proctitle.h); False when the kernel
 * refuses. */
static PyObject *show_command_line(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyList_Check(arg))
        return pycds_raise(PYCDS_ERROR_TYPE, "a list of bytes is needed");
    Py_ssize_t n = PyList_GET_SIZE(arg);
    const char **argv = PyMem_Calloc((size_t)n + 1, sizeof *argv);
    if (!argv)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(argv[i] = PyBytes_AsString(PyList_GET_ITEM(arg, i)))) {
            PyMem_Free(argv);
            return NULL;
        }
    int shown = pycds_show_command_line(argv, (size_t)n) == 0;
    PyMem_Free(argv);
    return PyBool_FromLong(shown);
}

/* Whether a stream says it is closed, as finalization asks: an error
 * counts as open. */
static int stream_closed(PyObject *stream)
{
    PyObject *closed = PyObject_GetAttrString(stream, "closed");
    if (!closed) {
        PyErr_Clear();
        return 0;
    }
    int truth = PyObject_IsTrue(closed);
    Py_DECREF(closed);
    if (truth < 0)
        PyErr_Clear();
    return truth > 0;
}

/*
 * flush_standard() -> bool: flush sys.stdout and sys.stderr as
 * finalization does (pylifecycle.c's flush_std_files): stdout's failure
 * reported as the interpreter reports it, stderr's dropped; True when one
 * failed (the exit status becomes 120).  Called with no Python frame
 * below (call_alone), so a report shows none, as python's.
 */
static PyObject *flush_standard(PyObject *module, PyObject *noargs)
{
    (void)module, (void)noargs;
    static const char *const names[] = {"stdout", "stderr"};
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        PyObject *stream = PySys_GetObject(names[i]);
        if (!stream || stream == Py_None)
            continue;
        Py_INCREF(stream);
        if (!stream_closed(stream)) {
            PyObject *done = PyObject_CallMethod(stream, "flush", NULL);
            if (!done) {
                failed = 1;
                if (i == 0)
                    pycds_report_stdout_flush(stream);
                else
                    PyErr_Clear();
            }
            Py_XDECREF(done);
        }
        Py_DECREF(stream);
    }
    return PyBool_FromLong(failed);
}

/*
 * call_alone(code, globals) or call_alone(callable, *args): the code run in
 * globals (as python runs a script: PyEval_EvalCode, no call in between),
 * or callable(*args) (as python runs -m: runpy called), with no Python
 * frame below and the whole recursion budget (compat.h's pycds_frames):
 * the program sees the frames a plain python shows it.
 */
static PyObject *call_alone(PyObject *module, PyObject *args)
{
    (void)module;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1 || (PyCode_Check(PyTuple_GET_ITEM(args, 0)) &&
                  (n != 2 || !PyDict_Check(PyTuple_GET_ITEM(args, 1)))))
        return pycds_raise(PYCDS_ERROR_TYPE, "call_alone(code, globals) or "
                                             "call_alone(callable, *args)");
    PyObject *first = PyTuple_GET_ITEM(args, 0);
    PyObject *rest = NULL;
    if (!PyCode_Check(first) && !(rest = PyTuple_GetSlice(args, 1, n)))
        return NULL;
    PyThreadState *ts = PyThreadState_Get();
    pycds_frames saved = pycds_frames_detach(ts);
    PyObject *globals = PyTuple_GET_ITEM(args, n - 1);
    PyObject *result = rest ? PyObject_Call(first, rest, NULL)
                            : PyEval_EvalCode(first, globals, globals);
    pycds_frames_attach(ts, saved);
    Py_XDECREF(rest);
    return result;
}

PyMethodDef pycds_child_methods[] = {
    {"call_alone", call_alone, METH_VARARGS,
     "call_alone(code, globals) or call_alone(callable, *args): run or call\n"
     "with no Python frame below and the whole recursion budget."},
    {"child_forget_report", child_forget_report, METH_NOARGS,
     "child_forget_report(): drop the report channel (in a forked process)."},
    {"child_end", child_end, METH_VARARGS,
     "child_end(code, report): flush C stdio; with report, close every\n"
     "descriptor and report the exit code."},
    {"child_learn_pages", child_learn_pages, METH_O,
     "child_learn_pages(path): list the pages this process wrote (pages.h)."},
    {"show_command_line", show_command_line, METH_O,
     "show_command_line(argv) -> bool: /proc/self/cmdline shows argv."},
    {"flush_standard", flush_standard, METH_NOARGS,
     "flush_standard() -> bool: flush sys.stdout and sys.stderr as\n"
     "finalization does; True when one failed."},
    {NULL, NULL, 0, NULL},
};
