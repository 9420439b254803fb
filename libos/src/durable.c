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
#include <sys/file.h>
#include <sys/stat.h>
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

/* Whether name is one of the temporaries a writer of the file base makes:
 * exactly BASE.tmp-PID-N, and nothing else (not another file's, nor
 * BASE.tmp-PID-N.tmp-PID-N, the temporary of a file of that name). */
static int is_temporary_of(const char *name, const char *base)
{
    size_t length = strlen(base);
    if (strncmp(name, base, length) != 0 ||
        strncmp(name + length, ".tmp-", 5) != 0)
        return 0;
    const char *p = name + length + 5, *digits = p;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == digits || *p++ != '-')
        return 0;
    for (digits = p; *p >= '0' && *p <= '9';)
        p++;
    return p != digits && *p == 0;
}

/* Remove name if no process holds it: a writer holds an exclusive lock on
 * its temporary from creating it until it is renamed or removed (even
 * across PID namespaces, where its PID says nothing), so a temporary this
 * process can lock belongs to a writer that died (SIGKILL, the OOM killer,
 * a power cut).  The name is removed only if it still names the file that
 * was locked. */
static void remove_if_dead(const char *name)
{
    int fd =
        os_sys.open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct stat locked, named;
    if (os_sys.fstat(fd, &locked) == 0 && S_ISREG(locked.st_mode) &&
        os_sys.flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        os_sys.lstat(name, &named) == 0 && named.st_dev == locked.st_dev &&
        named.st_ino == locked.st_ino)
        os_sys.unlink(name);
    os_sys.close(fd);
}

/* Remove the temporaries dead writers of target left beside it.  Best
 * effort and silent: nothing here fails the write. */
static void remove_dead_temporaries(const char *target)
{
    char directory[OS_DURABLE_PATH_MAX], name[OS_DURABLE_PATH_MAX];
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    int prefix = (int)(base - target); /* of a sibling's name: "DIR/" */
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else
        snprintf(directory, sizeof directory, "%.*s",
                 slash == target ? 1 : prefix - 1, target);
    DIR *d = os_sys.opendir(directory);
    if (!d)
        return;
    for (struct dirent *e; (e = os_sys.readdir(d)) != NULL;) {
        if (!is_temporary_of(e->d_name, base))
            continue;
        int length =
            snprintf(name, sizeof name, "%.*s%s", prefix, target, e->d_name);
        if (length > 0 && (size_t)length < sizeof name)
            remove_if_dead(name);
    }
    os_sys.closedir(d);
}

/* Lock the new temporary for as long as it is ours (see remove_if_dead).
 * 0 when it is held, or when the filesystem has no such locks (then no
 * writer can lock another's either, and none removes it); -1 when another
 * writer's clean-up got to it between its creation and this lock: that
 * one holds the lock, or has removed the name. */
static int hold(os_durable_file *f)
{
    if (os_sys.flock(f->fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? -1 : 0;
    struct stat mine, named;
    if (os_sys.fstat(f->fd, &mine) != 0)
        return 0;
    return os_sys.lstat(f->temporary, &named) == 0 &&
                   named.st_dev == mine.st_dev && named.st_ino == mine.st_ino
               ? 0
               : -1;
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
    remove_dead_temporaries(f->target);
    for (int attempt = 0;; attempt++) {
        unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        int length = snprintf(f->temporary, sizeof f->temporary,
                              "%s.tmp-%ld-%u", f->target, (long)getpid(), n);
        if (length < 0 || (size_t)length >= sizeof f->temporary) {
            f->temporary[0] = 0;
            return fail(f, ENAMETOOLONG, "%s", f->target);
        }
        f->fd = os_sys.open(f->temporary,
                            O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (f->fd < 0) {
            int error = errno;
            f->temporary[0] = 0; /* not ours to remove */
            return fail(f, error, "create %s", f->target);
        }
        if (hold(f) == 0)
            return 0;
        /* Taken for a dead writer's: the clean-up that took it removes
         * it.  Another name (one more race in a row is not to be
         * expected: give up after a few). */
        os_sys.close(f->fd);
        f->fd = -1;
        if (attempt == 3) {
            fail(f, EAGAIN, "lock %s", f->temporary);
            f->temporary[0] = 0;
            return -1;
        }
    }
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
    /* Removed before it is closed: while it is open, it is locked, and no
     * clean-up takes it. */
    if (f->temporary[0]) {
        os_sys.unlink(f->temporary);
        f->temporary[0] = 0;
    }
    if (f->fd >= 0) {
        os_sys.close(f->fd);
        f->fd = -1;
    }
}

int os_durable_commit(os_durable_file *f)
{
    if (!f->error && os_sys.fsync(f->fd) != 0)
        fail(f, errno, "fsync %s", f->temporary);
    /* Renamed while still open, and so still locked: another writer's
     * clean-up never removes a temporary about to become target. */
    if (!f->error && os_sys.rename(f->temporary, f->target) != 0)
        fail(f, errno, "rename to %s", f->target);
    if (f->error) {
        os_durable_abort(f);
        errno = f->error;
        return -1;
    }
    f->temporary[0] = 0; /* it is target now */
    /* The bytes are on the disk (the fsync said so): closing has nothing
     * left to report, and target holds them whatever close says. */
    os_sys.close(f->fd);
    f->fd = -1;
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
