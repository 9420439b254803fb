/*
 * key.c - the key that names a server, and the normal forms that go into
 * it.  The client computes the key of the server it needs; the server
 * computes its own from how it was started; both call run_key, so a server
 * is found exactly when it was started the way the client would start it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add(run_buffer *buffer, const char *s)
{
    /* Each piece ends with a NUL, so that no two inputs run together. */
    run_buffer_append(buffer, s, strlen(s) + 1);
}

run_status run_key(const run_key_input *input, char key[RUN_KEY_SIZE],
                   run_diag *diag)
{
    const char **startup = malloc((input->n_env + 1) * sizeof *startup);
    if (!startup)
        return run_fail(diag, RUN_E_NOMEM, "key of %zu variables",
                        input->n_env);
    size_t n = 0;
    for (size_t i = 0; i < input->n_env; i++)
        if (run_env_role_of(input->env[i]) == RUN_ENV_KEY)
            startup[n++] = input->env[i];
    qsort(startup, n, sizeof *startup, by_string);

    char version[32];
    snprintf(version, sizeof version, "pycds-run wire %d", RUN_WIRE_VERSION);
    run_buffer buffer = {0};
    add(&buffer, version);
    add(&buffer, input->python);
    for (int i = 0; i < input->n_options; i++)
        add(&buffer, input->options[i]);
    add(&buffer, "--");
    add(&buffer, input->preload ? input->preload : "");
    add(&buffer, input->archive ? input->archive : "");
    for (size_t i = 0; i < n; i++)
        add(&buffer, startup[i]);
    free(startup);
    if (buffer.failed) {
        run_buffer_free(&buffer);
        return run_fail(diag, RUN_E_NOMEM, "key input");
    }
    XXH128_hash_t hash = XXH3_128bits(buffer.bytes.items, buffer.bytes.count);
    run_buffer_free(&buffer);
    snprintf(key, RUN_KEY_SIZE, "%016llx%016llx",
             (unsigned long long)hash.high64, (unsigned long long)hash.low64);
    return RUN_OK;
}

/* A dotted module name: identifiers (ASCII here) joined by dots. */
static int module_name(const char *s, size_t n)
{
    int start = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (start)
                return 0;
            start = 1;
        } else if (c == '_' || isalpha(c) || (!start && isdigit(c)) ||
                   c >= 0x80) {
            start = 0;
        } else {
            return 0;
        }
    }
    return n > 0 && !start;
}

run_status run_preload_normalize(const char *list, char *out, size_t size,
                                 run_diag *diag)
{
    size_t used = 0;
    if (size == 0)
        return run_fail(diag, RUN_E_INVALID, "no room");
    out[0] = 0;
    const char *at = list ? list : "";
    while (*at) {
        size_t skip = strspn(at, ", \t\n");
        at += skip;
        size_t n = strcspn(at, ", \t\n");
        if (n == 0)
            break;
        if (!module_name(at, n))
            return run_fail(diag, RUN_E_INVALID,
                            "preload: '%.*s' is not a module name", (int)n, at);
        /* Skip a name given twice: importing it again does nothing. */
        int seen = 0;
        for (const char *p = out; *p;) {
            size_t m = strcspn(p, ",");
            if (m == n && strncmp(p, at, n) == 0)
                seen = 1;
            p += m + (p[m] == ',');
        }
        if (!seen) {
            if (used + n + 2 > size)
                return run_fail(diag, RUN_E_TOO_LARGE,
                                "preload list longer than %zu bytes", size);
            if (used)
                out[used++] = ',';
            memcpy(out + used, at, n);
            used += n;
            out[used] = 0;
        }
        at += n;
    }
    return RUN_OK;
}

run_status run_absolute_path(const char *path, char *out, size_t size,
                             run_diag *diag)
{
    if (!path || !*path) {
        if (size)
            out[0] = 0;
        return RUN_OK;
    }
    if (path[0] == '/') {
        if ((size_t)snprintf(out, size, "%s", path) >= size)
            return run_fail(diag, RUN_E_TOO_LARGE, "path too long");
        return RUN_OK;
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return run_fail(diag, RUN_E_IO, "current directory: %s",
                        strerror(errno));
    if ((size_t)snprintf(out, size, "%s/%s", cwd, path) >= size)
        return run_fail(diag, RUN_E_TOO_LARGE, "path too long");
    return RUN_OK;
}
