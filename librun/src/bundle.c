/*
 * bundle.c - writing a launcher: a copy of the client binary with its
 * embedded configuration block filled in (see run_bundle_config), written
 * whole or not at all (os_durable_*).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "os/durable.h"

static run_status read_file(const char *path, unsigned char **data,
                            size_t *size, run_diag *diag)
{
    int fd = os_sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return run_fail(diag, RUN_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (os_sys.fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (256 << 20)) {
        os_sys.close(fd);
        return run_fail(diag, RUN_E_INVALID, "%s: not a client binary", path);
    }
    *size = (size_t)st.st_size;
    *data = malloc(*size ? *size : 1);
    if (!*data) {
        os_sys.close(fd);
        return run_fail(diag, RUN_E_NOMEM, "%s: %zu bytes", path, *size);
    }
    size_t got = 0;
    while (got < *size) {
        ssize_t n = os_sys.read(fd, *data + got, *size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            free(*data);
            os_sys.close(fd);
            return run_fail(diag, RUN_E_IO, "%s: short read", path);
        }
        got += (size_t)n;
    }
    os_sys.close(fd);
    return RUN_OK;
}

static run_status copy_field(char *field, const char *value, const char *what,
                             run_diag *diag)
{
    size_t n = value ? strlen(value) : 0;
    if (n >= RUN_BUNDLE_FIELD)
        return run_fail(diag, RUN_E_TOO_LARGE, "%s longer than %d bytes", what,
                        RUN_BUNDLE_FIELD - 1);
    memset(field, 0, RUN_BUNDLE_FIELD);
    if (n)
        memcpy(field, value, n);
    return RUN_OK;
}

run_status run_bundle_write(const char *client_path, const char *out_path,
                            const char *python, const char *preload,
                            const char *archive, run_diag *diag)
{
    if (!python || python[0] != '/')
        return run_fail(diag, RUN_E_INVALID,
                        "the interpreter must be an absolute path");
    unsigned char *data = NULL;
    size_t size = 0;
    run_status status = read_file(client_path, &data, &size, diag);
    if (status != RUN_OK)
        return status;

    /* The block: the marker, NUL-padded to its field, then filled == 0. */
    run_bundle_config blank;
    memset(&blank, 0, sizeof blank);
    memcpy(blank.marker, RUN_BUNDLE_MARKER, sizeof RUN_BUNDLE_MARKER);
    /* The marker and the zero `filled` after it, as they lie in memory. */
    const size_t pattern = offsetof(run_bundle_config, reserved);
    unsigned char *found = NULL;
    for (unsigned char *at = data; at + sizeof blank <= data + size;) {
        unsigned char *hit = memmem(at, (size_t)(data + size - at),
                                    (const unsigned char *)&blank, pattern);
        if (!hit || hit + sizeof blank > data + size)
            break;
        if (found) {
            free(data);
            return run_fail(diag, RUN_E_INVALID,
                            "%s: the configuration block appears twice",
                            client_path);
        }
        found = hit;
        at = hit + 1;
    }
    if (!found) {
        free(data);
        return run_fail(diag, RUN_E_NOT_FOUND,
                        "%s: no empty launcher configuration block (not "
                        "pycds-run, or already a launcher)",
                        client_path);
    }
    run_bundle_config config = blank;
    config.filled = 1;
    if ((status = copy_field(config.python, python, "interpreter path",
                             diag)) != RUN_OK ||
        (status = copy_field(config.preload, preload, "preload list", diag)) !=
            RUN_OK ||
        (status = copy_field(config.archive, archive, "archive path", diag)) !=
            RUN_OK) {
        free(data);
        return status;
    }
    memcpy(found, &config, sizeof config);

    /* A launcher is a program: executable whatever the umask. */
    os_durable_file f;
    if (os_durable_begin(&f, out_path, 0755) == 0 &&
        os_sys.fchmod(f.fd, 0755) != 0) {
        int error = errno;
        os_durable_abort(&f);
        free(data);
        return run_fail(diag, RUN_E_IO, "chmod %s: %s", out_path,
                        strerror(error));
    }
    os_durable_write(&f, data, size);
    free(data);
    if (os_durable_commit(&f) != 0)
        return run_fail(diag, RUN_E_IO, "%s", f.message);
    return RUN_OK;
}
