/*
 * links.c - following symbolic links (see links.h).
 */
#include "os/links.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "os/syscalls.h"

#define LINK_MAX_SIZE 4096

int os_link_follow(const char *path, char *next, size_t size)
{
    struct stat st;
    if (os_sys.lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return 0;
    char link[LINK_MAX_SIZE];
    ssize_t n = os_sys.readlink(path, link, sizeof link);
    if (n < 0)
        return 0; /* replaced since the lstat: not a link any more */
    if ((size_t)n >= sizeof link) {
        errno = ENAMETOOLONG;
        return -1;
    }
    link[n] = 0;
    /* A relative target names a file in the link's own directory. */
    const char *slash = strrchr(path, '/');
    int directory = link[0] == '/' || !slash ? 0 : (int)(slash - path + 1);
    int length = snprintf(next, size, "%.*s%s", directory, path, link);
    if (length < 0 || (size_t)length >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 1;
}

int os_link_resolve(const char *path, char *target, size_t size)
{
    char next[LINK_MAX_SIZE];
    if (strlen(path) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(target, path);
    for (int links = 0;; links++) {
        int step = os_link_follow(target, next, sizeof next);
        if (step <= 0)
            return step;
        if (links == OS_LINK_DEPTH) {
            errno = ELOOP;
            return -1;
        }
        if (strlen(next) >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(target, next);
    }
}
