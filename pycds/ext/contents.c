/*
 * contents.c - the XXH3 of a file's contents (contents.h).
 */
#include "contents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds/cds.h"
#include "os/syscalls.h"

/* Read fd to its end into a buffer of its own (malloc'ed; the file may have
 * grown since fstat gave `expected`): 1 with *data and *size, else 0. */
static int read_all(int fd, size_t expected, char **data, size_t *size)
{
    size_t capacity = expected + 1, used = 0; /* +1: room to see the end */
    char *buffer = malloc(capacity);
    if (!buffer)
        return 0;
    for (;;) {
        if (used == capacity) {
            char *bigger =
                capacity < SIZE_MAX / 2 ? realloc(buffer, capacity * 2) : NULL;
            if (!bigger) {
                free(buffer);
                return 0;
            }
            buffer = bigger;
            capacity *= 2;
        }
        ssize_t n = os_sys.read(fd, buffer + used, capacity - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buffer);
            return 0;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    *data = buffer;
    *size = used;
    return 1;
}

int pycds_file_hash(const char *path, uint64_t *hash)
{
    /* O_NONBLOCK: a path that is now a FIFO is not waited on (fstat then
     * refuses it); a regular file reads as without it. */
    int fd = os_sys.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    struct stat st;
    char *data = NULL;
    size_t size = 0;
    int whole = os_sys.fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                read_all(fd, (size_t)st.st_size, &data, &size);
    os_sys.close(fd);
    if (!whole)
        return 0;
    *hash = cds_hash(data, size);
    free(data);
    return 1;
}

PyObject *pycds_file_hash_py(PyObject *module, PyObject *path)
{
    (void)module;
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(path, &bytes))
        return NULL;
    uint64_t hash = 0;
    int found;
    Py_BEGIN_ALLOW_THREADS
        found = pycds_file_hash(PyBytes_AS_STRING(bytes), &hash);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (!found)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(hash);
}
