/*
 * request.c - a request's body: encoding (client) and decoding (the
 * program's process), in the layout documented in run/wire.h.
 *
 * The decoder trusts nothing: every count is checked against the bytes
 * left before anything is allocated for it, every string must carry its
 * NUL inside the body, and the whole body must be used.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------- encoding */

void run_buffer_append(run_buffer *out, const void *data, size_t size)
{
    if (out->failed)
        return;
    out->bytes.item_size = 1; /* a zeroed buffer holds bytes too */
    if (!os_array_append(&out->bytes, data, size))
        out->failed = 1;
}

static void put(run_buffer *out, const void *data, size_t size)
{
    run_buffer_append(out, data, size);
}

static void put_u16(run_buffer *out, uint16_t v)
{
    put(out, &v, sizeof v);
}

static void put_u32(run_buffer *out, uint32_t v)
{
    put(out, &v, sizeof v);
}

static void put_u64(run_buffer *out, uint64_t v)
{
    put(out, &v, sizeof v);
}

static void put_string(run_buffer *out, const char *s)
{
    size_t length = s ? strlen(s) : 0;
    if (length > RUN_MAX_BODY) {
        out->failed = 1;
        return;
    }
    put_u32(out, (uint32_t)length);
    put(out, s ? s : "", length + 1);
}

static void put_strings(run_buffer *out, const char *const *v, uint32_t n)
{
    put_u32(out, n);
    for (uint32_t i = 0; i < n; i++)
        put_string(out, v[i]);
}

void run_buffer_free(run_buffer *buffer)
{
    os_array_free(&buffer->bytes);
    buffer->failed = 0;
}

run_status run_request_encode(const run_request *r, run_buffer *out,
                              run_diag *diag)
{
    if (r->mode == 0 || r->mode >= RUN_MODE_COUNT ||
        r->n_limits > RUN_MAX_LIMITS || r->n_fds > RUN_MAX_FDS ||
        r->n_cpu_words > RUN_CPU_WORDS)
        return run_fail(diag, RUN_E_INVALID, "request out of range");
    size_t start = out->bytes.count;
    put_u32(out, r->mode);
    put_u32(out, r->umask);
    put_u64(out, r->ignored_signals);
    put_u64(out, r->blocked_signals);
    put_u16(out, r->rows);
    put_u16(out, r->cols);
    put_u32(out, (uint32_t)r->nice);
    put_u32(out, r->n_cpu_words);
    put(out, r->cpus, sizeof(uint64_t) * r->n_cpu_words);
    put_u32(out, r->n_limits);
    put(out, r->limits, sizeof(run_limit) * r->n_limits);
    put_u32(out, r->n_fds);
    put(out, r->fd_numbers, sizeof(int32_t) * r->n_fds);
    put_string(out, r->cwd);
    put_string(out, r->target);
    put_strings(out, r->options, r->n_options);
    put_strings(out, r->args, r->n_args);
    put_strings(out, r->env, r->n_env);
    if (out->failed)
        return run_fail(diag, RUN_E_NOMEM, "request does not fit in memory");
    if (out->bytes.count - start > RUN_MAX_BODY)
        return run_fail(diag, RUN_E_TOO_LARGE,
                        "request of %zu bytes (arguments and environment); "
                        "at most %u",
                        out->bytes.count - start, (unsigned)RUN_MAX_BODY);
    return RUN_OK;
}

/* ------------------------------------------------------------- decoding */

typedef struct reader {
    const unsigned char *at, *end;
    int bad;
} reader;

static int take(reader *in, void *out, size_t size)
{
    if (in->bad || (size_t)(in->end - in->at) < size) {
        in->bad = 1;
        return 0;
    }
    memcpy(out, in->at, size);
    in->at += size;
    return 1;
}

static uint32_t take_u32(reader *in)
{
    uint32_t v = 0;
    take(in, &v, sizeof v);
    return v;
}

static const char *take_string(reader *in)
{
    uint32_t length = take_u32(in);
    if (in->bad || (size_t)(in->end - in->at) < (size_t)length + 1 ||
        in->at[length] != 0 || memchr(in->at, 0, length)) {
        in->bad = 1;
        return NULL;
    }
    const char *s = (const char *)in->at;
    in->at += length + 1;
    return s;
}

/* A count of strings, each at least 5 bytes (length and NUL): no more
 * than the bytes left allow, so a forged count allocates nothing big. */
static uint32_t take_count(reader *in)
{
    uint32_t n = take_u32(in);
    if (!in->bad && n > (size_t)(in->end - in->at) / 5)
        in->bad = 1;
    return in->bad ? 0 : n;
}

static const char **take_strings(reader *in, uint32_t n, const char **slots)
{
    for (uint32_t i = 0; i < n && !in->bad; i++)
        slots[i] = take_string(in);
    slots[n] = NULL;
    return slots;
}

run_status run_request_decode(const unsigned char *body, uint32_t length,
                              run_request *out, run_diag *diag)
{
    memset(out, 0, sizeof *out);
    reader in = {body, body + length, 0};
    take(&in, &out->mode, sizeof out->mode);
    take(&in, &out->umask, sizeof out->umask);
    take(&in, &out->ignored_signals, sizeof out->ignored_signals);
    take(&in, &out->blocked_signals, sizeof out->blocked_signals);
    take(&in, &out->rows, sizeof out->rows);
    take(&in, &out->cols, sizeof out->cols);
    take(&in, &out->nice, sizeof out->nice);
    out->n_cpu_words = take_u32(&in);
    if (in.bad || out->n_cpu_words > RUN_CPU_WORDS)
        return run_fail(diag, RUN_E_MALFORMED,
                        "request: bad header or %u "
                        "CPU mask words",
                        (unsigned)out->n_cpu_words);
    take(&in, out->cpus, sizeof(uint64_t) * out->n_cpu_words);
    out->n_limits = take_u32(&in);
    if (in.bad || out->n_limits > RUN_MAX_LIMITS)
        return run_fail(diag, RUN_E_MALFORMED,
                        "request: bad header or %u "
                        "limits",
                        (unsigned)out->n_limits);
    take(&in, out->limits, sizeof(run_limit) * out->n_limits);
    out->n_fds = take_u32(&in);
    if (in.bad || out->n_fds > RUN_MAX_FDS)
        return run_fail(diag, RUN_E_MALFORMED, "request: %u descriptors",
                        (unsigned)out->n_fds);
    take(&in, out->fd_numbers, sizeof(int32_t) * out->n_fds);
    out->cwd = take_string(&in);
    out->target = take_string(&in);
    if (in.bad)
        return run_fail(diag, RUN_E_MALFORMED, "request: cut short");
    if (out->mode == 0 || out->mode >= RUN_MODE_COUNT)
        return run_fail(diag, RUN_E_MALFORMED, "request: mode %u",
                        (unsigned)out->mode);
    for (uint32_t i = 0; i < out->n_fds; i++)
        if (out->fd_numbers[i] < 0)
            return run_fail(diag, RUN_E_MALFORMED, "request: fd number %d",
                            (int)out->fd_numbers[i]);

    /* The three string lists share one allocation, sized as they are
     * read; each count is bounded by the bytes left. */
    const unsigned char *lists = in.at;
    uint32_t n_options = take_count(&in);
    reader skip = in;
    for (uint32_t i = 0; i < n_options && !skip.bad; i++)
        take_string(&skip);
    uint32_t n_args = take_count(&skip);
    for (uint32_t i = 0; i < n_args && !skip.bad; i++)
        take_string(&skip);
    uint32_t n_env = take_count(&skip);
    if (skip.bad || n_options > RUN_MAX_OPTIONS)
        return run_fail(diag, RUN_E_MALFORMED, "request: bad string lists");
    const char **slots =
        calloc((size_t)n_options + n_args + n_env + 3, sizeof *slots);
    if (!slots)
        return run_fail(diag, RUN_E_NOMEM, "request of %u strings",
                        (unsigned)(n_options + n_args + n_env));
    in.at = lists;
    in.bad = 0;
    out->n_options = take_count(&in);
    out->options = take_strings(&in, n_options, slots);
    out->n_args = take_count(&in);
    out->args = take_strings(&in, n_args, slots + n_options + 1);
    out->n_env = take_count(&in);
    out->env = take_strings(&in, n_env, slots + n_options + n_args + 2);
    if (in.bad || in.at != in.end || out->n_args != n_args ||
        out->n_env != n_env) {
        run_request_free(out);
        return run_fail(diag, RUN_E_MALFORMED,
                        "request: strings malformed or bytes left over");
    }
    return RUN_OK;
}

void run_request_free(run_request *request)
{
    /* options is the start of the one allocation. */
    free((void *)request->options);
    request->options = request->args = request->env = NULL;
}

/* ---------------------------------------------------------- small bodies */

void run_exit_encode(const run_exit *exit_status, unsigned char out[16])
{
    memcpy(out, exit_status, sizeof *exit_status);
}

run_status run_exit_decode(const unsigned char *body, uint32_t length,
                           run_exit *out)
{
    if (length != sizeof *out)
        return RUN_E_MALFORMED;
    memcpy(out, body, sizeof *out);
    if (out->signaled > 1 ||
        (out->signaled && (out->value < 1 || out->value > 64)))
        return RUN_E_MALFORMED;
    return RUN_OK;
}

void run_i32_encode(int32_t value, unsigned char out[4])
{
    memcpy(out, &value, sizeof value);
}

run_status run_i32_decode(const unsigned char *body, uint32_t length,
                          int32_t *out)
{
    if (length != sizeof *out)
        return RUN_E_MALFORMED;
    memcpy(out, body, sizeof *out);
    return RUN_OK;
}
