/*
 * durable.c - atomic, durable file writes (see durable.h).
 */
#define _GNU_SOURCE
#include "os/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "os/links.h"
#include "os/syscalls.h"

/* Record the first failure: what was being done, and errno. */
__attribute__((format(printf, 3, 4))) static int
fail(os_durable_file *f, int error, const char *format, ...)
{
    if (f->error)
        return -1;
    f->error = error ? error : EIO;
    char what[OS_DURABLE_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    snprintf(f->message, sizeof f->message, "%.200s: %s", what,
             strerror(f->error));
    return -1;
}

int os_durable_begin(os_durable_file *f, const char *path, mode_t mode)
{
    /* Several threads or processes may write the same path at once: each
     * gets its own temporary, and the last rename wins whole. */
    static unsigned counter;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    if (os_link_resolve(path, f->target, sizeof f->target) != 0)
        return fail(f, errno, "follow the links of %s", path);
    unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    int length = snprintf(f->temporary, sizeof f->temporary, "%s.tmp-%ld-%u",
                          f->target, (long)getpid(), n);
    if (length < 0 || (size_t)length >= sizeof f->temporary) {
        f->temporary[0] = 0;
        return fail(f, ENAMETOOLONG, "%s", f->target);
    }
    f->fd = os_sys.open(f->temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        mode);
    if (f->fd < 0) {
        int error = errno;
        f->temporary[0] = 0; /* not ours to remove */
        return fail(f, error, "create %s", f->target);
    }
    return 0;
}

int os_durable_write(os_durable_file *f, const void *data, size_t size)
{
    if (f->error)
        return -1;
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t n = os_sys.write(f->fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(f, n < 0 ? errno : ENOSPC, "write %s", f->temporary);
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

int os_durable_write_zeros(os_durable_file *f, uint64_t size)
{
    static const unsigned char zeros[4096];
    while (size > 0) {
        size_t n = size < sizeof zeros ? (size_t)size : sizeof zeros;
        if (os_durable_write(f, zeros, n) != 0)
            return -1;
        size -= n;
    }
    return 0;
}

/* Make a rename durable: fsync the directory that holds path.  Best
 * effort: some filesystems refuse to sync a directory, and the file itself
 * is complete either way. */
static void sync_directory(const char *path)
{
    char directory[OS_DURABLE_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else if (snprintf(directory, sizeof directory, "%.*s",
                      slash == path ? 1 : (int)(slash - path),
                      path) >= (int)sizeof directory)
        return;
    int fd = os_sys.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
        os_sys.fsync(fd);
        os_sys.close(fd);
    }
}

void os_durable_abort(os_durable_file *f)
{
    if (f->fd >= 0) {
        os_sys.close(f->fd);
        f->fd = -1;
    }
    if (f->temporary[0]) {
        os_sys.unlink(f->temporary);
        f->temporary[0] = 0;
    }
}

int os_durable_commit(os_durable_file *f)
{
    if (!f->error && os_sys.fsync(f->fd) != 0)
        fail(f, errno, "fsync %s", f->temporary);
    if (f->fd >= 0) {
        int closed = os_sys.close(f->fd);
        f->fd = -1;
        if (closed != 0)
            fail(f, errno, "close %s", f->temporary);
    }
    if (!f->error && os_sys.rename(f->temporary, f->target) != 0)
        fail(f, errno, "rename to %s", f->target);
    if (f->error) {
        os_durable_abort(f);
        errno = f->error;
        return -1;
    }
    f->temporary[0] = 0; /* it is target now */
    sync_directory(f->target);
    return 0;
}

int os_durable_write_file(const char *path, const void *data, size_t size,
                          mode_t mode, char *message, size_t message_size)
{
    os_durable_file f;
    if (os_durable_begin(&f, path, mode) == 0)
        os_durable_write(&f, data, size);
    int status = os_durable_commit(&f);
    if (status != 0 && message && message_size)
        snprintf(message, message_size, "%s", f.message);
    if (status != 0)
        errno = f.error;
    return status;
}
