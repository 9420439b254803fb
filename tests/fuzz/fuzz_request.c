/*
 * fuzz_request.c - libFuzzer target over what librun reads from a peer or
 * a command line: request bodies (the program's process decodes them from
 * a client), the small reply bodies (the client decodes them), frames on a
 * socket (headers, lengths, cuts), and python's command line split from
 * the input at NULs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "run/run.h"

static void decode_bodies(const uint8_t *data, size_t size)
{
    run_request request;
    if (run_request_decode(data, (uint32_t)size, &request, NULL) == RUN_OK) {
        /* Everything decoded must be readable and within bounds. */
        size_t total = strlen(request.cwd) + strlen(request.target);
        for (uint32_t i = 0; i < request.n_options; i++)
            total += strlen(request.options[i]);
        for (uint32_t i = 0; i < request.n_args; i++)
            total += strlen(request.args[i]);
        for (uint32_t i = 0; i < request.n_env; i++) {
            total += strlen(request.env[i]);
            (void)run_env_role_of(request.env[i]);
        }
        if (total > size)
            abort();
        /* A decoded request encodes back to the same bytes. */
        run_buffer again = {0};
        if (run_request_encode(&request, &again, NULL) != RUN_OK ||
            again.bytes.count != size ||
            memcmp(again.bytes.items, data, size) != 0)
            abort();
        run_buffer_free(&again);
        run_request_free(&request);
    }
    run_exit how;
    run_exit_decode(data, (uint32_t)size, &how);
    int32_t value;
    run_i32_decode(data, (uint32_t)size, &value);
}

static void receive_frame(const uint8_t *data, size_t size)
{
    int pair[2];
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        return;
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(pair[0], data + written, size - written);
        if (n <= 0)
            break;
        written += (size_t)n;
    }
    close(pair[0]);
    run_frame frame;
    while (run_recv(pair[1], &frame, 100, NULL) == RUN_OK)
        run_frame_release(&frame);
    close(pair[1]);
}

static void parse_command_line(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    char *argv[64];
    int argc = 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    for (char *at = copy; argc < 64 && at <= copy + size; at += strlen(at) + 1)
        argv[argc++] = at;
    run_cmdline line;
    run_cmdline_parse(argc, argv, size & 1, &line);
    for (int i = 0; i < line.n_options; i++)
        if (strlen(line.options[i]) > size)
            abort();
    if (!line.plain && line.first_arg > argc)
        abort();
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_bodies(data, size);
    receive_frame(data, size);
    parse_command_line(data, size);
    char normal[256];
    char *text = strndup((const char *)data, size);
    run_preload_normalize(text, normal, sizeof normal, NULL);
    free(text);
    return 0;
}
