/*
 * trust.c - refuse archives that another user could have written.
 *
 * An archive is code the interpreter will run.  If someone other than this
 * process's user (or root) can change it, or can replace it in its
 * directory, loading it would let them run code as this user.
 */
#include "trust.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int trusted_owner(uid_t owner)
{
    return owner == geteuid() || owner == 0;
}

int pycds_check_trust(const char *path, char *reason, size_t size)
{
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT) {
        snprintf(reason, size, "%s", strerror(errno));
        return -1;
    }
    /* A missing file is not a trust question (opening it fails plainly),
     * but its directory still must be safe: AUTO mode writes there. */
    if (!exists)
        goto directory;
    if (!trusted_owner(st.st_uid)) {
        snprintf(reason, size, "owned by uid %u, not by this user or root",
                 (unsigned)st.st_uid);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(reason, size, "writable by %s (mode %03o)",
                 st.st_mode & S_IWOTH ? "others" : "its group",
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
directory:;
    char copy[PATH_MAX];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        snprintf(reason, size, "path too long");
        return -1;
    }
    const char *dir = dirname(copy);
    if (stat(dir, &st) != 0) {
        snprintf(reason, size, "directory: %s", strerror(errno));
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        snprintf(reason, size,
                 "its directory %s is writable by %s without the sticky bit",
                 dir, st.st_mode & S_IWOTH ? "others" : "its group");
        return -1;
    }
    if (!trusted_owner(st.st_uid)) {
        snprintf(reason, size, "its directory %s is owned by uid %u", dir,
                 (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}
