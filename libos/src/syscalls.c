/*
 * syscalls.c - the table of OS calls (see syscalls.h).  Each entry is a
 * small function rather than the libc symbol itself: some libc functions
 * are macros or have variadic prototypes (open), and a table of plain
 * functions has one type per entry.
 */
#define _GNU_SOURCE
#include "os/syscalls.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

static int real_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int real_close(int fd)
{
    return close(fd);
}

static ssize_t real_read(int fd, void *buffer, size_t size)
{
    return read(fd, buffer, size);
}

static ssize_t real_pread(int fd, void *buffer, size_t size, off_t offset)
{
    return pread(fd, buffer, size, offset);
}

static ssize_t real_write(int fd, const void *data, size_t size)
{
    return write(fd, data, size);
}

static int real_fsync(int fd)
{
    return fsync(fd);
}

static int real_fchmod(int fd, mode_t mode)
{
    return fchmod(fd, mode);
}

static int real_fstat(int fd, struct stat *st)
{
    return fstat(fd, st);
}

static int real_stat(const char *path, struct stat *st)
{
    return stat(path, st);
}

static int real_lstat(const char *path, struct stat *st)
{
    return lstat(path, st);
}

static int real_rename(const char *from, const char *to)
{
    return rename(from, to);
}

static int real_unlink(const char *path)
{
    return unlink(path);
}

static int real_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode);
}

static ssize_t real_readlink(const char *path, char *buffer, size_t size)
{
    return readlink(path, buffer, size);
}

static int real_flock(int fd, int operation)
{
    return flock(fd, operation);
}

static DIR *real_opendir(const char *path)
{
    return opendir(path);
}

static struct dirent *real_readdir(DIR *directory)
{
    return readdir(directory);
}

static int real_closedir(DIR *directory)
{
    return closedir(directory);
}

static void *real_mmap(void *address, size_t size, int prot, int flags, int fd,
                       off_t offset)
{
    return mmap(address, size, prot, flags, fd, offset);
}

static int real_munmap(void *address, size_t size)
{
    return munmap(address, size);
}

static int real_mprotect(void *address, size_t size, int prot)
{
    return mprotect(address, size, prot);
}

static int real_madvise(void *address, size_t size, int advice)
{
    return madvise(address, size, advice);
}

/* The real calls, as one initializer: for the table, and for restoring it. */
#define REAL_CALLS                                                             \
    {                                                                          \
        .open = real_open, .close = real_close, .read = real_read,             \
        .pread = real_pread, .write = real_write, .fsync = real_fsync,         \
        .fchmod = real_fchmod, .fstat = real_fstat, .stat = real_stat,         \
        .lstat = real_lstat, .rename = real_rename, .unlink = real_unlink,     \
        .mkdir = real_mkdir, .readlink = real_readlink, .flock = real_flock,   \
        .opendir = real_opendir, .readdir = real_readdir,                      \
        .closedir = real_closedir, .mmap = real_mmap, .munmap = real_munmap,   \
        .mprotect = real_mprotect, .madvise = real_madvise,                    \
    }

static const os_syscalls real_calls = REAL_CALLS;

os_syscalls os_sys = REAL_CALLS;

void os_syscalls_restore(void)
{
    os_sys = real_calls;
}
