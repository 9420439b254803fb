/*
 * trust.c - refuse archives that another user could have written.
 *
 * An archive is code the interpreter will run.  If someone other than this
 * process's user (or root) can change it, or can replace it in its
 * directory, loading it would let them run code as this user.
 */
#include "trust.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "os/links.h"
#include "os/syscalls.h"
#include "os/trust.h"

int pycds_check_trust(const char *path, char *reason, size_t size)
{
    struct stat st;
    if (os_sys.stat(path, &st) != 0) {
        /* A missing file is not a trust question (opening it fails
         * plainly), but its directory still must be safe: AUTO mode writes
         * there. */
        if (errno != ENOENT) {
            snprintf(reason, size, "%s", strerror(errno));
            return -1;
        }
    } else if (!os_trusted_owner(st.st_uid)) {
        snprintf(reason, size, "owned by uid %u, not by this user or root",
                 (unsigned)st.st_uid);
        return -1;
    } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(reason, size, "writable by %s (mode %03o)",
                 st.st_mode & S_IWOTH ? "others" : "its group",
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    /* Whoever may rename entries in the directory of any link on the way
     * decides which file is read, and AUTO writes the archive beside the
     * file at the end (libos's durable write follows the links): each of
     * those directories must follow the rule. */
    char name[4096], next[4096];
    if ((size_t)snprintf(name, sizeof name, "%s", path) >= sizeof name) {
        snprintf(reason, size, "path too long");
        return -1;
    }
    for (int links = 0;; links++) {
        if (os_check_parent(name, reason, size) != 0)
            return -1;
        int step = os_link_follow(name, next, sizeof next);
        if (step == 0)
            return 0;
        if (step < 0 || links == OS_LINK_DEPTH) {
            snprintf(reason, size, "%s", strerror(step < 0 ? errno : ELOOP));
            return -1;
        }
        memcpy(name, next, sizeof name);
    }
}
