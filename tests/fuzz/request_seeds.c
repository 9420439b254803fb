/*
 * request_seeds.c - writes fuzz_request's seed corpus: real request
 * bodies, each also as a whole frame, and a few command lines.
 *
 *     request_seeds DIRECTORY
 */
#include <stdio.h>
#include <string.h>

#include "run/run.h"

static void put(const char *dir, const char *name, const void *data,
                size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        perror(path);
        return;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: request_seeds DIRECTORY\n");
        return 2;
    }
    static const char *const options[] = {"-B", "-X", "utf8"};
    static const char *const args[] = {"a", "b c"};
    static const char *const env[] = {"PATH=/bin", "PYTHONPATH=/lib", "TZ="};
    for (int mode = RUN_MODE_SCRIPT; mode < RUN_MODE_COUNT; mode++) {
        run_request r;
        memset(&r, 0, sizeof r);
        r.mode = (uint32_t)mode;
        r.umask = 022;
        r.n_limits = 1;
        r.limits[0] = (run_limit){7, 0, 1024, 4096};
        r.n_fds = 3;
        r.fd_numbers[1] = 1;
        r.fd_numbers[2] = 2;
        r.cwd = "/tmp";
        r.target = mode == RUN_MODE_COMMAND ? "print(1)" : "app.py";
        r.n_options = (uint32_t)(mode % 2 ? 3 : 0);
        r.options = options;
        r.n_args = 2;
        r.args = args;
        r.n_env = 3;
        r.env = env;
        run_buffer body = {0};
        if (run_request_encode(&r, &body, NULL) != RUN_OK)
            return 1;
        char name[32];
        snprintf(name, sizeof name, "request-%d", mode);
        put(argv[1], name, body.bytes.items, body.bytes.count);
        run_frame_header header = {RUN_WIRE_MAGIC, RUN_WIRE_VERSION,
                                   RUN_MSG_REQUEST, (uint32_t)body.bytes.count,
                                   0};
        unsigned char frame[8192];
        memcpy(frame, &header, sizeof header);
        memcpy(frame + sizeof header, body.bytes.items, body.bytes.count);
        snprintf(name, sizeof name, "frame-%d", mode);
        put(argv[1], name, frame, sizeof header + body.bytes.count);
        run_buffer_free(&body);
    }
    static const char line[] = "-Bu\0-X\0utf8\0-m\0json.tool\0file";
    put(argv[1], "line", line, sizeof line);
    return 0;
}
