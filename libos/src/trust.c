/*
 * trust.c - the parent-directory rule (see trust.h).
 */
#include "os/trust.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "os/syscalls.h"

int os_trusted_owner(uid_t owner)
{
    return owner == geteuid() || owner == 0;
}

int os_check_parent(const char *path, char *reason, size_t size)
{
    char directory[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else if (snprintf(directory, sizeof directory, "%.*s",
                      slash == path ? 1 : (int)(slash - path),
                      path) >= (int)sizeof directory) {
        snprintf(reason, size, "path too long");
        return -1;
    }
    struct stat st;
    if (os_sys.stat(directory, &st) != 0) {
        snprintf(reason, size, "directory %s: %s", directory, strerror(errno));
        return -1;
    }
    if (!os_trusted_owner(st.st_uid)) {
        snprintf(reason, size,
                 "directory %s is owned by uid %u, not by this user or root",
                 directory, (unsigned)st.st_uid);
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        snprintf(reason, size,
                 "directory %s is writable by %s without the sticky bit",
                 directory, st.st_mode & S_IWOTH ? "others" : "its group");
        return -1;
    }
    return 0;
}
