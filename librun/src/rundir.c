/*
 * rundir.c - the per-user directory that holds a user's server sockets,
 * locks and logs.
 *
 * Whoever can create a socket in it can run code as its owner's programs,
 * so it is checked like an archive (owner, mode) but stricter: a real
 * directory owned by this user with no permission at all for anyone else,
 * in a directory that no one else can rename it out of.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "os/trust.h"

run_status run_dir_check(const char *path, run_diag *diag)
{
    struct stat st;
    if (os_sys.lstat(path, &st) != 0)
        return run_fail(diag, errno == ENOENT ? RUN_E_NOT_FOUND : RUN_E_IO,
                        "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return run_fail(diag, RUN_E_UNSAFE, "%s: not a directory%s", path,
                        S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
    if (st.st_uid != geteuid())
        return run_fail(diag, RUN_E_UNSAFE,
                        "%s: owned by uid %u, not by this user (uid %u)", path,
                        (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return run_fail(diag, RUN_E_UNSAFE,
                        "%s: mode %03o, others have access (needs 0700)", path,
                        (unsigned)(st.st_mode & 0777));
    return RUN_OK;
}

/* The directory that holds ours: whoever may rename entries in it could
 * swap ours for a link between a check and a use (libos's one rule). */
static run_status check_parent(const char *path, run_diag *diag)
{
    if (path[0] != '/')
        return run_fail(diag, RUN_E_UNSAFE, "%s: not an absolute path", path);
    char reason[RUN_DIAG_SIZE];
    if (os_check_parent(path, reason, sizeof reason) != 0)
        return run_fail(diag, RUN_E_UNSAFE, "%s: %s", path, reason);
    return RUN_OK;
}

run_status run_dir(char *out, size_t size, int create, run_diag *diag)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int n;
    if (runtime && runtime[0] == '/')
        n = snprintf(out, size, "%s/pycds", runtime);
    else
        n = snprintf(out, size, "/tmp/pycds-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= size)
        return run_fail(diag, RUN_E_TOO_LARGE, "directory path too long");
    run_status parent = check_parent(out, diag);
    if (parent != RUN_OK)
        return parent;
    if (create && os_sys.mkdir(out, 0700) != 0 && errno != EEXIST)
        return run_fail(diag, RUN_E_IO, "%s: %s", out, strerror(errno));
    return run_dir_check(out, diag);
}
