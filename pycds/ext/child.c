/*
 * child.c - the program's process, forked from the server: its request,
 * and the steps of becoming the program that Python cannot take itself
 * (pycds/_child.py takes the rest).
 *
 * Order matters and is _child.py's: the request is read; the client's
 * descriptors are put at their numbers; cwd, umask and limits applied;
 * Python's own state set; then READY is sent with a pidfd of this process
 * and the program starts only on the client's GO.  At the end, every
 * descriptor is closed (so readers of the program's output see its end)
 * before EXIT is sent on the connection, which the program never sees: it
 * lies at a high number, close-on-exec, and is checked to still be the
 * same socket before it is written to.
 */
#define _GNU_SOURCE
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
#include "run/run.h"

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

static PyObject *strings(const char *const *v, uint32_t n, int as_bytes)
{
    PyObject *list = PyList_New(n);
    for (uint32_t i = 0; list && i < n; i++) {
        PyObject *item = as_bytes ? PyBytes_FromString(v[i])
                                  : PyUnicode_DecodeFSDefault(v[i]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *request_dict(int conn, const run_frame *frame,
                              const run_request *r)
{
    PyObject *fds = PyList_New(r->n_fds);
    PyObject *limits = PyList_New(r->n_limits);
    if (!fds || !limits)
        goto fail;
    for (uint32_t i = 0; i < r->n_fds; i++) {
        PyObject *number = PyLong_FromLong(r->fd_numbers[i]);
        if (!number)
            goto fail;
        PyList_SET_ITEM(fds, i, number);
    }
    for (uint32_t i = 0; i < r->n_limits; i++) {
        PyObject *limit =
            Py_BuildValue("(IKK)", (unsigned)r->limits[i].resource,
                          (unsigned long long)r->limits[i].soft,
                          (unsigned long long)r->limits[i].hard);
        if (!limit)
            goto fail;
        PyList_SET_ITEM(limits, i, limit);
    }
    PyObject *target = PyUnicode_DecodeFSDefault(r->target);
    PyObject *result = Py_BuildValue(
        "{s:i,s:s,s:N,s:N,s:N,s:N,s:y,s:i,s:N,s:I,s:K,s:K,s:N,s:i,s:i,s:i,"
        "s:N}",
        "conn", conn, "mode", mode_names[r->mode], "target", target, "options",
        strings(r->options, r->n_options, 0), "args",
        strings(r->args, r->n_args, 0), "env", strings(r->env, r->n_env, 1),
        "cwd", r->cwd, "cwd_fd", frame->fds[0], "fds", fds, "umask",
        (unsigned)r->umask, "ignored_signals",
        (unsigned long long)r->ignored_signals, "blocked_signals",
        (unsigned long long)r->blocked_signals, "limits", limits, "rows",
        (int)r->rows, "cols", (int)r->cols, "nice", (int)r->nice, "cpus",
        PyBytes_FromStringAndSize((const char *)r->cpus,
                                  (Py_ssize_t)(r->n_cpu_words * 8)));
    return result;
fail:
    Py_XDECREF(fds);
    Py_XDECREF(limits);
    return NULL;
}

/* The lowest number at least `from` that nothing uses, close-on-exec. */
static int move_high(int fd, int from);

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
    PyObject *result = request_dict(conn, &frame, &request);
    run_request_free(&request);
    /* The current directory's descriptor now belongs to the dict. */
    frame.n_fds = 0;
    run_frame_release(&frame);
    if (!result) {
        PyErr_Print();
        _exit(0);
    }
    return result;
}

/* The lowest number at least `from` that nothing uses, close-on-exec. */
static int move_high(int fd, int from)
{
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, from);
    if (moved >= 0)
        close(fd);
    return moved;
}

/*
 * child_check_fds(numbers, conn, cwd_fd): Unservable when a number the
 * client's descriptors will take is held by something preloaded: giving
 * it to the program would pull it from under its owner.  (The descriptors
 * themselves come with GO.)
 */
static PyObject *child_check_fds(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *numbers;
    int conn, cwd_fd;
    if (!PyArg_ParseTuple(args, "O!ii", &PyList_Type, &numbers, &conn, &cwd_fd))
        return NULL;
    if (PyList_GET_SIZE(numbers) > RUN_MAX_FDS)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE, "too many descriptors");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(numbers); i++) {
        int number = (int)PyLong_AsLong(PyList_GET_ITEM(numbers, i));
        if (number == -1 && PyErr_Occurred())
            return NULL;
        if (number > 2 && number != conn && number != cwd_fd &&
            number != started_fd && fcntl(number, F_GETFD) >= 0)
            return pycds_raise(PYCDS_ERROR_UNSERVABLE,
                               "descriptor %d is in use in the server", number);
    }
    Py_RETURN_NONE;
}

/*
 * child_place_fds(pairs): put each received descriptor (number, fd) at the
 * client's number for it, inheritable as the client had it, and close 0-2
 * where the client had nothing.
 */
static PyObject *child_place_fds(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyList_Check(arg))
        return pycds_raise(PYCDS_ERROR_TYPE, "a list of pairs is needed");
    Py_ssize_t n = PyList_GET_SIZE(arg);
    int numbers[RUN_MAX_FDS], fds[RUN_MAX_FDS];
    int top = 2;
    if (n > RUN_MAX_FDS)
        return pycds_raise(PYCDS_ERROR_VALUE, "too many descriptors");
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyArg_ParseTuple(PyList_GET_ITEM(arg, i), "ii", &numbers[i],
                              &fds[i]))
            return NULL;
        if (numbers[i] > top)
            top = numbers[i];
    }
    /* Every received one out of the way of every target number first, so
     * that placing one never closes another still to be placed. */
    for (Py_ssize_t i = 0; i < n; i++)
        if ((fds[i] = move_high(fds[i], top + 1)) < 0)
            return pycds_raise_errno(NULL);
    int present[3] = {0, 0, 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        if (dup2(fds[i], numbers[i]) < 0)
            return pycds_raise_errno(NULL);
        close(fds[i]);
        if (numbers[i] <= 2)
            present[numbers[i]] = 1;
    }
    for (int fd = 0; fd <= 2; fd++)
        if (!present[fd])
            close(fd);
    Py_RETURN_NONE;
}

/*
 * child_apply(cwd_fd, umask, limits, nice, cpus): enter the client's
 * directory (by descriptor: the same directory even if its path changed),
 * take its umask, resource limits, nice value and CPUs.  Unservable when
 * one cannot be had here.
 */
static PyObject *child_apply(PyObject *module, PyObject *args)
{
    (void)module;
    int cwd_fd, nice;
    unsigned int mask;
    PyObject *limits;
    Py_buffer cpus;
    if (!PyArg_ParseTuple(args, "iIO!iy*", &cwd_fd, &mask, &PyList_Type,
                          &limits, &nice, &cpus))
        return NULL;
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    int refused =
        errno == 0 && now != nice && setpriority(PRIO_PROCESS, 0, nice) != 0;
    if (!refused && cpus.len > 0) {
        cpu_set_t wanted, current;
        CPU_ZERO(&wanted);
        memcpy(&wanted, cpus.buf,
               (size_t)cpus.len < sizeof wanted ? (size_t)cpus.len
                                                : sizeof wanted);
        refused = sched_getaffinity(0, sizeof current, &current) == 0 &&
                  !CPU_EQUAL(&wanted, &current) &&
                  sched_setaffinity(0, sizeof wanted, &wanted) != 0;
    }
    PyBuffer_Release(&cpus);
    if (refused)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE,
                           "the caller's nice value or CPUs: %s",
                           strerror(errno));
    if (fchdir(cwd_fd) != 0)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE,
                           "cannot enter the caller's directory: %s",
                           strerror(errno));
    close(cwd_fd);
    umask((mode_t)mask);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(limits); i++) {
        unsigned int resource;
        unsigned long long soft, hard;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(limits, i), "IKK", &resource,
                              &soft, &hard))
            return NULL;
        struct rlimit now;
        if (getrlimit((int)resource, &now) != 0)
            continue; /* a limit this kernel does not have */
        if (now.rlim_cur == soft && now.rlim_max == hard)
            continue;
        /* The main thread's stack and the default size of new threads'
         * stacks were fixed when the server started. */
        if (resource == RLIMIT_STACK)
            return pycds_raise(PYCDS_ERROR_UNSERVABLE,
                               "the caller's stack size limit differs from "
                               "the server's");
        struct rlimit wanted = {(rlim_t)soft, (rlim_t)hard};
        if (setrlimit((int)resource, &wanted) != 0)
            return pycds_raise(PYCDS_ERROR_UNSERVABLE, "resource limit %u: %s",
                               resource, strerror(errno));
    }
    Py_RETURN_NONE;
}

/*
 * child_announce(conn) -> bool: send READY with this process's pid and a
 * pidfd (the client signals the program through it).  False when the
 * client is gone.
 */
static PyObject *child_announce(PyObject *module, PyObject *arg)
{
    (void)module;
    int conn = PyLong_AsLong(arg);
    if (conn < 0 && PyErr_Occurred())
        return NULL;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return pycds_raise(PYCDS_ERROR_UNSERVABLE, "pidfd_open: %s",
                           strerror(errno));
    unsigned char body[4];
    run_i32_encode((int32_t)getpid(), body);
    run_status sent = run_send(conn, RUN_MSG_READY, body, 4, &pidfd, 1, NULL);
    close(pidfd);
    return PyBool_FromLong(sent == RUN_OK);
}

/*
 * child_await(conn, count) -> list or None: wait for the client's GO and
 * the count descriptors it carries.  None when the client went away
 * instead: the program must not start.  On GO the server hears that a
 * program starts, and the connection moves high, close-on-exec, to report
 * the end.
 */
static PyObject *child_await(PyObject *module, PyObject *args)
{
    (void)module;
    int conn, count;
    if (!PyArg_ParseTuple(args, "ii", &conn, &count))
        return NULL;
    run_frame frame;
    run_status got;
    Py_BEGIN_ALLOW_THREADS
        got = run_recv(conn, &frame, -1, NULL);
    Py_END_ALLOW_THREADS
    if (got != RUN_OK)
        Py_RETURN_NONE;
    if (frame.type != RUN_MSG_GO || frame.n_fds != count) {
        run_frame_release(&frame);
        Py_RETURN_NONE;
    }
    PyObject *fds = PyList_New(count);
    for (int i = 0; fds && i < count; i++) {
        PyObject *fd = PyLong_FromLong(frame.fds[i]);
        if (!fd) {
            Py_CLEAR(fds);
            break;
        }
        PyList_SET_ITEM(fds, i, fd);
    }
    if (!fds) {
        run_frame_release(&frame);
        return NULL;
    }
    frame.n_fds = 0; /* the list's now */
    run_frame_release(&frame);
    if (started_fd >= 0) {
        int32_t pid = (int32_t)getpid();
        ssize_t written = write(started_fd, &pid, sizeof pid);
        (void)written; /* only a count */
        close(started_fd);
        started_fd = -1;
    }
    int moved = move_high(conn, high_numbers());
    struct stat st;
    if (moved >= 0 && fstat(moved, &st) == 0) {
        report_fd = moved;
        report_dev = st.st_dev;
        report_ino = st.st_ino;
    }
    return fds;
}

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

/*
 * child_unservable(conn, reason): the program cannot be served after all;
 * tell the client so that python runs it.
 */
static PyObject *child_unservable(PyObject *module, PyObject *args)
{
    (void)module;
    int conn;
    const char *reason;
    if (!PyArg_ParseTuple(args, "is", &conn, &reason))
        return NULL;
    run_send(conn, RUN_MSG_PLAIN, reason, (uint32_t)strlen(reason) + 1, NULL, 0,
             NULL);
    Py_RETURN_NONE;
}

/*
 * write_unraisable(exception, obj): report an exception as the interpreter
 * reports one it cannot raise ("Exception ignored in: ..."), as it does
 * when flushing standard output fails at exit.
 */
static PyObject *write_unraisable(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *exception, *obj;
    if (!PyArg_ParseTuple(args, "OO", &exception, &obj))
        return NULL;
    if (!PyExceptionInstance_Check(exception)) {
        return pycds_raise(PYCDS_ERROR_TYPE, "an exception instance is needed");
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exception)),
                  Py_NewRef(exception), PyException_GetTraceback(exception));
    PyErr_WriteUnraisable(obj);
    Py_RETURN_NONE;
}

PyMethodDef pycds_child_methods[] = {
    {"child_check_fds", child_check_fds, METH_VARARGS,
     "child_check_fds(numbers, conn, cwd_fd): Unservable when one is taken."},
    {"child_place_fds", child_place_fds, METH_O,
     "child_place_fds(pairs): the client's descriptors at their numbers."},
    {"child_apply", child_apply, METH_VARARGS,
     "child_apply(cwd_fd, umask, limits, nice, cpus): the client's\n"
     "directory, umask, resource limits, nice value and CPUs."},
    {"child_announce", child_announce, METH_O,
     "child_announce(conn) -> bool: READY, with a pidfd."},
    {"child_await", child_await, METH_VARARGS,
     "child_await(conn, count) -> list or None: wait for GO and its fds."},
    {"child_forget_report", child_forget_report, METH_NOARGS,
     "child_forget_report(): drop the report channel (in a forked process)."},
    {"child_end", child_end, METH_VARARGS,
     "child_end(code, report): flush C stdio; with report, close every\n"
     "descriptor and report the exit code."},
    {"child_learn_pages", child_learn_pages, METH_O,
     "child_learn_pages(path): list the pages this process wrote (pages.h)."},
    {"child_unservable", child_unservable, METH_VARARGS,
     "child_unservable(conn, reason): python must run this program."},
    {"write_unraisable", write_unraisable, METH_VARARGS,
     "write_unraisable(exception, obj): 'Exception ignored in: obj'."},
    {NULL, NULL, 0, NULL},
};
