/*
 * server_files.c - the files of a server (socket, lock, log, pages list,
 * failure note), named after its socket, the failure note's contents and
 * the start of the log's lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "os/durable.h"
#include "run/server.h"

static const struct {
    const char *name, *suffix;
} files[RUN_FILE_COUNT] = {
    [RUN_FILE_SOCKET] = {"socket", ".sock"},
    [RUN_FILE_LOCK] = {"lock", ".lock"},
    [RUN_FILE_LOG] = {"log", ".log"},
    [RUN_FILE_PAGES] = {"pages", ".pages"},
    [RUN_FILE_FAILED] = {"failed", ".failed"},
};

/* sun_path holds 108 bytes with the NUL. */
#define SOCKET_PATH_SIZE 108

const char *run_server_file_name(run_server_file which)
{
    return (unsigned)which < RUN_FILE_COUNT ? files[which].name : NULL;
}

const char *run_server_file_suffix(run_server_file which)
{
    return (unsigned)which < RUN_FILE_COUNT ? files[which].suffix : NULL;
}

int run_server_file_by_name(const char *name)
{
    for (int i = 0; i < RUN_FILE_COUNT; i++)
        if (strcmp(files[i].name, name) == 0)
            return i;
    return -1;
}

/* base (length n) + the file's suffix into out. */
static run_status join(char *out, size_t size, const char *base, size_t n,
                       run_server_file which, run_diag *diag)
{
    if ((unsigned)which >= RUN_FILE_COUNT)
        return run_fail(diag, RUN_E_INVALID, "no server file %d", (int)which);
    size_t limit = size;
    if (which == RUN_FILE_SOCKET && limit > SOCKET_PATH_SIZE)
        limit = SOCKET_PATH_SIZE;
    int length =
        snprintf(out, size, "%.*s%s", (int)n, base, files[which].suffix);
    if (length < 0 || (size_t)length >= limit)
        return run_fail(diag, RUN_E_TOO_LARGE, "%.*s%s: too long for a %s",
                        (int)n, base, files[which].suffix,
                        which == RUN_FILE_SOCKET ? "socket path" : "path");
    return RUN_OK;
}

run_status run_server_file_path(char *out, size_t size, const char *dir,
                                const char *key, run_server_file which,
                                run_diag *diag)
{
    char base[4096];
    int n = snprintf(base, sizeof base, "%s/%s", dir, key);
    if (n < 0 || (size_t)n >= sizeof base)
        return run_fail(diag, RUN_E_TOO_LARGE, "%s: path too long", dir);
    return join(out, size, base, (size_t)n, which, diag);
}

run_status run_server_file_beside(char *out, size_t size,
                                  const char *socket_path,
                                  run_server_file which, run_diag *diag)
{
    size_t n = strlen(socket_path);
    size_t suffix = strlen(files[RUN_FILE_SOCKET].suffix);
    if (n >= suffix &&
        strcmp(socket_path + n - suffix, files[RUN_FILE_SOCKET].suffix) == 0)
        n -= suffix;
    return join(out, size, socket_path, n, which, diag);
}

run_status run_failed_note_write(const char *path, const char *why,
                                 run_diag *diag)
{
    /* One line: the reader stops at the first newline. */
    size_t n = strcspn(why, "\n");
    os_durable_file note;
    if (os_durable_begin(&note, path, 0600) == 0) {
        os_durable_write(&note, why, n);
        os_durable_write(&note, "\n", 1);
    }
    if (os_durable_commit(&note) != 0)
        return run_fail(diag, RUN_E_IO, "%s", note.message);
    return RUN_OK;
}

int run_failed_note_read(const char *path, char *why, size_t size)
{
    struct stat st;
    if (size == 0 || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    /* A note dated later than now by more than the back-off itself (a clock
     * stepped back, a file copied from a machine whose clock is ahead) is
     * not believed: it would keep every client from starting the server
     * until this clock caught up. */
    time_t age = time(NULL) - st.st_mtime;
    if (age >= RUN_FAILED_BACKOFF_SECONDS ||
        age < -(time_t)RUN_FAILED_BACKOFF_SECONDS)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n = fd >= 0 ? read(fd, why, size - 1) : -1;
    if (fd >= 0)
        close(fd);
    why[n > 0 ? n : 0] = 0;
    why[strcspn(why, "\n")] = 0;
    return 1;
}

size_t run_log_prefix(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n =
        snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d pycds serve[%ld]: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)getpid());
    if (n < 0 || size == 0)
        return 0; /* not for these formats */
    return (size_t)n < size ? (size_t)n : size - 1;
}
