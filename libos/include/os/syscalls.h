/*
 * syscalls.h - every operating-system call libcds, librun and libos make on
 * files and memory, through one table that tests may override.
 *
 * As SQLite's os_unix.c does with aSyscall[]: code calls os_sys.pread(...)
 * instead of pread(...), so that a test can make one call fail (EIO on a
 * read, ENOSPC on a write, a failed fsync or rename) and see that the
 * library copes: nothing half-written is used, the old file stays, a reader
 * refuses the module and the program runs on.  A new OS call is one field
 * here and one line in syscalls.c.
 */
#ifndef OS_SYSCALLS_H
#define OS_SYSCALLS_H

#include <dirent.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct os_syscalls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*read)(int fd, void *buffer, size_t size);
    ssize_t (*pread)(int fd, void *buffer, size_t size, off_t offset);
    ssize_t (*write)(int fd, const void *data, size_t size);
    int (*fsync)(int fd);
    int (*fchmod)(int fd, mode_t mode);
    int (*fstat)(int fd, struct stat *st);
    int (*stat)(const char *path, struct stat *st);
    int (*lstat)(const char *path, struct stat *st);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    ssize_t (*readlink)(const char *path, char *buffer, size_t size);
    int (*flock)(int fd, int operation);
    DIR *(*opendir)(const char *path);
    struct dirent *(*readdir)(DIR *directory);
    int (*closedir)(DIR *directory);
    void *(*mmap)(void *address, size_t size, int prot, int flags, int fd,
                  off_t offset);
    int (*munmap)(void *address, size_t size);
    int (*mprotect)(void *address, size_t size, int prot);
    int (*madvise)(void *address, size_t size, int advice);
} os_syscalls;

/* The calls in use: the real ones unless a test replaced some. */
extern os_syscalls os_sys;

/* Put every real call back (tests, after injecting faults). */
void os_syscalls_restore(void);

#endif /* OS_SYSCALLS_H */
