/*
 * test_run.c - librun: the request's encoding and every refusal of its
 * decoder, frames with descriptors over a real socket pair (and their
 * failures), python's command line, start-up variables, the server key,
 * the per-user directory's checks and launchers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "run/run.h"
#include "run/server.h"
#include "stand_in_client.h"

#define CHECK_RUN(actual, expected)                                            \
    do {                                                                       \
        run_status a_ = (actual), e_ = (expected);                             \
        if (a_ != e_) {                                                        \
            fprintf(stderr, "%s:%d: %s gave \"%s\", expected \"%s\"\n",        \
                    __FILE__, __LINE__, #actual, run_strerror(a_),             \
                    run_strerror(e_));                                         \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

static const char *const options[] = {"-B", "-X", "utf8"};
static const char *const args[] = {"one", "", "three"};
static const char *const env[] = {"PATH=/bin", "LANG=C.UTF-8", "EMPTY="};

static void sample(run_request *r)
{
    memset(r, 0, sizeof *r);
    r->mode = RUN_MODE_SCRIPT;
    r->umask = 022;
    r->ignored_signals = 1u << 0;
    r->blocked_signals = 1u << 9;
    r->rows = 24;
    r->cols = 80;
    r->nice = 5;
    r->n_cpu_words = 1;
    r->cpus[0] = 0x3;
    r->n_limits = 2;
    r->limits[0] = (run_limit){7, 0, 1024, 4096};
    r->limits[1] = (run_limit){3, 0, UINT64_MAX, UINT64_MAX};
    r->n_fds = 3;
    r->fd_numbers[0] = 0;
    r->fd_numbers[1] = 1;
    r->fd_numbers[2] = 9;
    r->cwd = "/home/user";
    r->target = "app.py";
    r->n_options = 3;
    r->options = options;
    r->n_args = 3;
    r->args = args;
    r->n_env = 3;
    r->env = env;
}

static void test_request_round_trip(void)
{
    run_request in, out;
    sample(&in);
    run_buffer body = {0};
    CHECK_RUN(run_request_encode(&in, &body, NULL), RUN_OK);
    CHECK_RUN(run_request_decode(body.bytes.items, (uint32_t)body.bytes.count,
                                 &out, NULL),
              RUN_OK);
    CHECK_EQ_INT(out.mode, RUN_MODE_SCRIPT);
    CHECK_EQ_INT(out.umask, 022);
    CHECK_EQ_INT(out.blocked_signals, 1u << 9);
    CHECK_EQ_INT(out.rows, 24);
    CHECK_EQ_INT(out.nice, 5);
    CHECK(out.n_cpu_words == 1 && out.cpus[0] == 0x3);
    CHECK_EQ_INT(out.n_limits, 2);
    CHECK(out.limits[1].soft == UINT64_MAX);
    CHECK_EQ_INT(out.n_fds, 3);
    CHECK_EQ_INT(out.fd_numbers[2], 9);
    CHECK(strcmp(out.cwd, "/home/user") == 0);
    CHECK(strcmp(out.target, "app.py") == 0);
    CHECK_EQ_INT(out.n_options, 3);
    CHECK(strcmp(out.options[2], "utf8") == 0 && out.options[3] == NULL);
    CHECK_EQ_INT(out.n_args, 3);
    CHECK(strcmp(out.args[1], "") == 0);
    CHECK_EQ_INT(out.n_env, 3);
    CHECK(strcmp(out.env[2], "EMPTY=") == 0);
    run_request_free(&out);
    run_buffer_free(&body);
}

/* Every prefix of a good body, and the body with a byte more, is refused
 * as malformed, with nothing left allocated (run under ASan). */
static void test_request_cut_anywhere_is_refused(void)
{
    run_request in, out;
    sample(&in);
    run_buffer body = {0};
    CHECK_RUN(run_request_encode(&in, &body, NULL), RUN_OK);
    for (size_t n = 0; n < body.bytes.count; n++) {
        run_diag diag;
        CHECK_RUN(
            run_request_decode(body.bytes.items, (uint32_t)n, &out, &diag),
            RUN_E_MALFORMED);
    }
    unsigned char *longer = malloc(body.bytes.count + 1);
    memcpy(longer, body.bytes.items, body.bytes.count);
    longer[body.bytes.count] = 0;
    CHECK_RUN(
        run_request_decode(longer, (uint32_t)body.bytes.count + 1, &out, NULL),
        RUN_E_MALFORMED);
    free(longer);
    run_buffer_free(&body);
}

static void test_request_forged_fields_are_refused(void)
{
    run_request in, out;
    sample(&in);
    run_buffer body = {0};
    CHECK_RUN(run_request_encode(&in, &body, NULL), RUN_OK);
    unsigned char *copy = malloc(body.bytes.count);
    uint32_t size = (uint32_t)body.bytes.count;
    /* mode 0 and past the last mode */
    uint32_t bad_modes[] = {0, RUN_MODE_COUNT, 0xffffffff};
    for (size_t i = 0; i < 3; i++) {
        memcpy(copy, body.bytes.items, size);
        memcpy(copy, &bad_modes[i], 4);
        CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    }
    /* the CPU mask's length, the limit count and the fd count past their
     * maxima */
    uint32_t huge = 1000;
    memcpy(copy, body.bytes.items, size);
    memcpy(copy + 32, &huge, 4);
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    size_t limit_count = 36 + 8;
    memcpy(copy, body.bytes.items, size);
    memcpy(copy + limit_count, &huge, 4);
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    size_t fd_count = limit_count + 4 + 2 * sizeof(run_limit);
    memcpy(copy, body.bytes.items, size);
    memcpy(copy + fd_count, &huge, 4);
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    /* a negative fd number */
    memcpy(copy, body.bytes.items, size);
    int32_t negative = -1;
    memcpy(copy + fd_count + 4, &negative, 4);
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    /* a string whose NUL is gone: the cwd's last byte */
    memcpy(copy, body.bytes.items, size);
    size_t cwd_at = fd_count + 4 + 3 * 4;
    copy[cwd_at + 4 + strlen("/home/user")] = 'x';
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    /* a string holding a NUL inside its length */
    memcpy(copy, body.bytes.items, size);
    copy[cwd_at + 4 + 2] = 0;
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    /* an environment count far beyond the bytes that follow */
    memcpy(copy, body.bytes.items, size);
    uint32_t many = 0x7fffffff;
    size_t env_count = size - (4 + 9 + 1) - (4 + 12 + 1) - (4 + 6 + 1) - 4;
    memcpy(copy + env_count, &many, 4);
    CHECK_RUN(run_request_decode(copy, size, &out, NULL), RUN_E_MALFORMED);
    free(copy);
    run_buffer_free(&body);
}

static void test_request_encoding_limits(void)
{
    run_request r;
    sample(&r);
    run_buffer body = {0};
    r.mode = 0;
    CHECK_RUN(run_request_encode(&r, &body, NULL), RUN_E_INVALID);
    sample(&r);
    r.n_fds = RUN_MAX_FDS + 1;
    CHECK_RUN(run_request_encode(&r, &body, NULL), RUN_E_INVALID);
    /* An environment over RUN_MAX_BODY is refused, not truncated. */
    sample(&r);
    size_t n = RUN_MAX_BODY / 4096 + 2;
    char *big = malloc(4096);
    memset(big, 'x', 4095);
    big[4095] = 0;
    const char **many = malloc(n * sizeof *many);
    for (size_t i = 0; i < n; i++)
        many[i] = big;
    r.env = many;
    r.n_env = (uint32_t)n;
    run_buffer_free(&body);
    CHECK_RUN(run_request_encode(&r, &body, NULL), RUN_E_TOO_LARGE);
    run_buffer_free(&body);
    free(many);
    free(big);
}

static void test_small_bodies(void)
{
    unsigned char body[16];
    run_exit in = {1, 15, 1, 0}, out;
    run_exit_encode(&in, body);
    CHECK_RUN(run_exit_decode(body, 16, &out), RUN_OK);
    CHECK(out.signaled == 1 && out.value == 15 && out.core_dumped == 1);
    CHECK_RUN(run_exit_decode(body, 15, &out), RUN_E_MALFORMED);
    run_exit bad = {1, 99, 0, 0};
    run_exit_encode(&bad, body);
    CHECK_RUN(run_exit_decode(body, 16, &out), RUN_E_MALFORMED);
    bad = (run_exit){2, 0, 0, 0};
    run_exit_encode(&bad, body);
    CHECK_RUN(run_exit_decode(body, 16, &out), RUN_E_MALFORMED);
    int32_t value;
    run_i32_encode(-7, body);
    CHECK_RUN(run_i32_decode(body, 4, &value), RUN_OK);
    CHECK_EQ_INT(value, -7);
    CHECK_RUN(run_i32_decode(body, 5, &value), RUN_E_MALFORMED);
}

/* ---------------------------------------------------------------- frames */

static void test_frames_carry_descriptors(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);
    CHECK_RUN(run_send(pair[0], RUN_MSG_PLAIN, "why", 4, pipe_fds, 2, NULL),
              RUN_OK);
    run_frame frame;
    CHECK_RUN(run_recv(pair[1], &frame, 1000, NULL), RUN_OK);
    CHECK_EQ_INT(frame.type, RUN_MSG_PLAIN);
    CHECK_EQ_INT(frame.length, 4);
    CHECK(strcmp((char *)frame.body, "why") == 0);
    CHECK_EQ_INT(frame.n_fds, 2);
    /* The received write end reaches the original read end, and both are
     * close-on-exec. */
    CHECK(write(frame.fds[1], "z", 1) == 1);
    char c = 0;
    CHECK(read(pipe_fds[0], &c, 1) == 1 && c == 'z');
    CHECK(fcntl(frame.fds[0], F_GETFD) & FD_CLOEXEC);
    run_frame_release(&frame);
    CHECK(frame.n_fds == 0 && frame.body == NULL);
    /* A frame without a body. */
    CHECK_RUN(run_send(pair[0], RUN_MSG_GO, NULL, 0, NULL, 0, NULL), RUN_OK);
    CHECK_RUN(run_recv(pair[1], &frame, 1000, NULL), RUN_OK);
    CHECK(frame.type == RUN_MSG_GO && frame.length == 0 && !frame.body);
    run_frame_release(&frame);
    /* Nothing sent: the time-out. */
    run_diag diag;
    CHECK_RUN(run_recv(pair[1], &frame, 50, &diag), RUN_E_TIMEOUT);
    /* The peer gone before a frame: end of file. */
    close(pair[0]);
    CHECK_RUN(run_recv(pair[1], &frame, 1000, &diag), RUN_E_EOF);
    close(pair[1]);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

static void send_raw(int fd, const void *data, size_t size)
{
    CHECK(write(fd, data, size) == (ssize_t)size);
}

static void test_bad_frames_are_refused(void)
{
    struct {
        run_frame_header header;
        const char *what;
        run_status expected;
    } cases[] = {
        {{0x12345678, RUN_WIRE_VERSION, RUN_MSG_GO, 0, 0},
         "magic",
         RUN_E_PROTOCOL},
        {{RUN_WIRE_MAGIC, RUN_WIRE_VERSION + 1, RUN_MSG_GO, 0, 0},
         "version",
         RUN_E_PROTOCOL},
        {{RUN_WIRE_MAGIC, RUN_WIRE_VERSION, 0, 0, 0}, "type 0", RUN_E_PROTOCOL},
        {{RUN_WIRE_MAGIC, RUN_WIRE_VERSION, RUN_MSG_COUNT, 0, 0},
         "type",
         RUN_E_PROTOCOL},
        {{RUN_WIRE_MAGIC, RUN_WIRE_VERSION, RUN_MSG_GO, RUN_MAX_BODY + 1, 0},
         "length",
         RUN_E_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int pair[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
        send_raw(pair[0], &cases[i].header, sizeof cases[i].header);
        run_frame frame;
        run_diag diag;
        run_status got = run_recv(pair[1], &frame, 1000, &diag);
        if (got != cases[i].expected)
            fprintf(stderr, "case %s: %s\n", cases[i].what, diag.message);
        CHECK_RUN(got, cases[i].expected);
        close(pair[0]);
        close(pair[1]);
    }
    /* A frame cut inside its body. */
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    run_frame_header header = {RUN_WIRE_MAGIC, RUN_WIRE_VERSION, RUN_MSG_PLAIN,
                               100, 0};
    send_raw(pair[0], &header, sizeof header);
    send_raw(pair[0], "short", 5);
    close(pair[0]);
    run_frame frame;
    CHECK_RUN(run_recv(pair[1], &frame, 1000, NULL), RUN_E_MALFORMED);
    close(pair[1]);
    /* Sending to a peer that is gone: end of file, never SIGPIPE. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    close(pair[1]);
    CHECK_RUN(run_send(pair[0], RUN_MSG_GO, NULL, 0, NULL, 0, NULL), RUN_E_EOF);
    close(pair[0]);
}

/* ----------------------------------------------------------- command line */

typedef struct line_case {
    const char *argv[8];
    int tty;
    run_mode mode;
    const char *target, *argv0;
    int first_arg;
    const char *options; /* joined by spaces */
    int plain;
} line_case;

static void test_command_lines(void)
{
    static const line_case cases[] = {
        {{"app.py", "a", "b"},
         0,
         RUN_MODE_SCRIPT,
         "app.py",
         "app.py",
         1,
         "",
         0},
        {{"-B", "app.py"}, 0, RUN_MODE_SCRIPT, "app.py", "app.py", 2, "-B", 0},
        {{"-Bc", "print(1)", "x"},
         0,
         RUN_MODE_COMMAND,
         "print(1)",
         "-c",
         2,
         "-B",
         0},
        {{"-cprint(1)"}, 0, RUN_MODE_COMMAND, "print(1)", "-c", 1, "", 0},
        {{"-m", "json.tool", "f"},
         0,
         RUN_MODE_MODULE,
         "json.tool",
         "-m",
         2,
         "",
         0},
        {{"-Xutf8", "-X", "int_max_str_digits=9", "-m", "x"},
         0,
         RUN_MODE_MODULE,
         "x",
         "-m",
         5,
         "-X utf8 -X int_max_str_digits=9",
         0},
        {{"-bbOOs", "-"}, 1, RUN_MODE_REPL, NULL, "-", 2, "-b -b -O -O -s", 0},
        {{"-", "a"}, 0, RUN_MODE_STDIN, NULL, "-", 1, "", 0},
        {{NULL}, 1, RUN_MODE_REPL, NULL, "", 0, "", 0},
        {{NULL}, 0, RUN_MODE_STDIN, NULL, "", 0, "", 0},
        {{"--", "-c"}, 0, RUN_MODE_SCRIPT, "-c", "-c", 2, "", 0},
        {{"--check-hash-based-pycs", "always", "a.py"},
         0,
         RUN_MODE_SCRIPT,
         "a.py",
         "a.py",
         3,
         "--check-hash-based-pycs always",
         0},
        {{"-i", "a.py"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-v", "a.py"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-X", "importtime", "a.py"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-W", "error", "a.py"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-Bx", "a.py"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"--version"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-c"}, 0, 0, NULL, NULL, 0, NULL, 1},
        {{"-Z"}, 0, 0, NULL, NULL, 0, NULL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const line_case *c = &cases[i];
        int argc = 0;
        while (argc < 8 && c->argv[argc])
            argc++;
        run_cmdline line;
        run_cmdline_parse(argc, (char *const *)c->argv, c->tty, &line);
        int ok = (line.plain != NULL) == c->plain;
        if (ok && !c->plain) {
            char joined[256] = "";
            for (int j = 0; j < line.n_options; j++) {
                strcat(joined, j ? " " : "");
                strcat(joined, line.options[j]);
            }
            ok = line.mode == c->mode && line.first_arg == c->first_arg &&
                 strcmp(line.argv0, c->argv0) == 0 &&
                 strcmp(joined, c->options) == 0 &&
                 (c->target ? line.target && strcmp(line.target, c->target) == 0
                            : line.target == NULL);
        }
        if (!ok) {
            fprintf(stderr, "command line case %zu (%s ...) parsed wrong\n", i,
                    c->argv[0] ? c->argv[0] : "(none)");
            check_failures++;
        }
    }
}

/* -------------------------------------------------- environment and key */

static void test_environment_roles(void)
{
    CHECK_EQ_INT(run_env_role_of("PYTHONPATH=/x"), RUN_ENV_KEY);
    CHECK_EQ_INT(run_env_role_of("PYTHONHASHSEED"), RUN_ENV_KEY);
    CHECK_EQ_INT(run_env_role_of("OMP_NUM_THREADS=4"), RUN_ENV_KEY);
    CHECK_EQ_INT(run_env_role_of("PYTHONVERBOSE=1"), RUN_ENV_PLAIN);
    CHECK_EQ_INT(run_env_role_of("PYCDSMODE=TRACE"), RUN_ENV_PLAIN);
    CHECK_EQ_INT(run_env_role_of("PYCDSMODE=share"), RUN_ENV_KEY);
    CHECK_EQ_INT(run_env_role_of("PYTHONBREAKPOINT=0"), RUN_ENV_RUNTIME);
    CHECK_EQ_INT(run_env_role_of("PYTHONPATHX=1"), RUN_ENV_RUNTIME);
    CHECK_EQ_INT(run_env_role_of("HOME2=1"), RUN_ENV_RUNTIME);
    char *const quiet[] = {"PYTHONVERBOSE=", "A=1", NULL};
    CHECK(run_env_forcing_plain(quiet) == NULL);
    char *const loud[] = {"A=1", "PYTHONINSPECT=1", NULL};
    CHECK(run_env_forcing_plain(loud) == loud[1]);

    const char *a[] = {"PATH=/bin", "TZ=UTC", "PYTHONPATH=/lib"};
    const char *b[] = {"PYTHONPATH=/lib", "PATH=/usr/bin", "TZ=UTC"};
    const char *c[] = {"PYTHONPATH=/lib", "TZ=UTC"};
    const char *d[] = {"PYTHONPATH=/lib", "TZ=UTC", "LANG=C"};
    char name[64];
    CHECK(!run_env_startup_differs(a, 3, b, 3, name, sizeof name));
    CHECK(!run_env_startup_differs(a, 3, c, 2, name, sizeof name));
    CHECK(run_env_startup_differs(a, 3, d, 3, name, sizeof name));
    CHECK(strcmp(name, "LANG") == 0);
    const char *e[] = {"TZ=Asia/Tokyo", "PYTHONPATH=/lib"};
    CHECK(run_env_startup_differs(c, 2, e, 2, name, sizeof name));
    CHECK(strcmp(name, "TZ") == 0);
}

static void key_of(const char *python, const char *preload,
                   const char *const *e, size_t n, char key[RUN_KEY_SIZE])
{
    run_key_input in = {python, options, 1, preload, "", e, n};
    CHECK_RUN(run_key(&in, key, NULL), RUN_OK);
}

static void test_key(void)
{
    const char *e1[] = {"PATH=/bin", "PYTHONPATH=/lib", "TZ=UTC"};
    const char *e2[] = {"TZ=UTC", "SHELL=/bin/sh", "PYTHONPATH=/lib"};
    const char *e3[] = {"TZ=UTC", "PYTHONPATH=/other"};
    char k1[RUN_KEY_SIZE], k2[RUN_KEY_SIZE], k3[RUN_KEY_SIZE], k4[RUN_KEY_SIZE],
        k5[RUN_KEY_SIZE];
    key_of("/venv/bin/python", "numpy", e1, 3, k1);
    key_of("/venv/bin/python", "numpy", e2, 3, k2);
    key_of("/venv/bin/python", "numpy", e3, 2, k3);
    key_of("/venv/bin/python", "torch", e1, 3, k4);
    key_of("/other/bin/python", "numpy", e1, 3, k5);
    CHECK(strlen(k1) == 32);
    CHECK(strcmp(k1, k2) == 0); /* order and run-time variables aside */
    CHECK(strcmp(k1, k3) != 0);
    CHECK(strcmp(k1, k4) != 0);
    CHECK(strcmp(k1, k5) != 0);
}

static void test_preload_and_paths(void)
{
    char out[64];
    CHECK_RUN(run_preload_normalize(" numpy,  boto3 torch,numpy,", out,
                                    sizeof out, NULL),
              RUN_OK);
    CHECK(strcmp(out, "numpy,boto3,torch") == 0);
    CHECK_RUN(run_preload_normalize("", out, sizeof out, NULL), RUN_OK);
    CHECK(out[0] == 0);
    CHECK_RUN(
        run_preload_normalize("google.cloud.storage", out, sizeof out, NULL),
        RUN_OK);
    run_diag diag;
    const char *bad[] = {"a..b", ".a", "a.", "1abc", "a-b", "os;rm"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_RUN(run_preload_normalize(bad[i], out, sizeof out, &diag),
                  RUN_E_INVALID);
    CHECK_RUN(run_preload_normalize("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
                                    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                                    out, sizeof out, NULL),
              RUN_E_TOO_LARGE);
    CHECK_RUN(run_absolute_path("/a/b", out, sizeof out, NULL), RUN_OK);
    CHECK(strcmp(out, "/a/b") == 0);
    char cwd[512], expected[600], got[600];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(expected, sizeof expected, "%s/./x.img", cwd);
    CHECK_RUN(run_absolute_path("./x.img", got, sizeof got, NULL), RUN_OK);
    CHECK(strcmp(got, expected) == 0);
}

/* ------------------------------------------------------------ directory */

static void test_directory_checks(void)
{
    char base[] = "/tmp/run-test-XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char path[256], link[256];
    snprintf(path, sizeof path, "%s/private", base);
    snprintf(link, sizeof link, "%s/link", base);
    CHECK(mkdir(path, 0700) == 0);
    CHECK_RUN(run_dir_check(path, NULL), RUN_OK);
    run_diag diag;
    CHECK(chmod(path, 0750) == 0);
    CHECK_RUN(run_dir_check(path, &diag), RUN_E_UNSAFE);
    CHECK(strstr(diag.message, "mode 750") != NULL);
    CHECK(chmod(path, 0700) == 0);
    CHECK(symlink(path, link) == 0);
    CHECK_RUN(run_dir_check(link, &diag), RUN_E_UNSAFE);
    CHECK(strstr(diag.message, "symbolic link") != NULL);
    CHECK_RUN(run_dir_check("/nonexistent/pycds", &diag), RUN_E_NOT_FOUND);
    /* run_dir under XDG_RUNTIME_DIR: made private, then accepted; not in a
     * directory others may write to (without the sticky bit). */
    setenv("XDG_RUNTIME_DIR", base, 1);
    char dir[256];
    CHECK(chmod(base, 0777) == 0);
    CHECK_RUN(run_dir(dir, sizeof dir, 1, &diag), RUN_E_UNSAFE);
    CHECK(strstr(diag.message, "without the sticky bit") != NULL);
    CHECK(chmod(base, 01777) == 0);
    CHECK_RUN(run_dir(dir, sizeof dir, 1, NULL), RUN_OK);
    CHECK(rmdir(dir) == 0);
    CHECK(chmod(base, 0700) == 0);
    CHECK_RUN(run_dir(dir, sizeof dir, 1, NULL), RUN_OK);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    char file[256];
    CHECK_RUN(run_server_file_path(file, sizeof file, dir, "0123",
                                   RUN_FILE_SOCKET, NULL),
              RUN_OK);
    char long_dir[200];
    memset(long_dir, 'd', sizeof long_dir - 1);
    long_dir[sizeof long_dir - 1] = 0;
    CHECK_RUN(run_server_file_path(file, sizeof file, long_dir, "k",
                                   RUN_FILE_SOCKET, NULL),
              RUN_E_TOO_LARGE);
    rmdir(dir);
    unlink(link);
    rmdir(path);
    rmdir(base);
    unsetenv("XDG_RUNTIME_DIR");
}

/* ------------------------------------------------------------- launchers */

static void test_launchers(void)
{
    char base[] = "/tmp/run-bundle-XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char client[256], out[256], again[256];
    snprintf(client, sizeof client, "%s/client", base);
    snprintf(out, sizeof out, "%s/launcher", base);
    snprintf(again, sizeof again, "%s/again", base);
    CHECK(write_stand_in_client(client) == 0);
    CHECK_RUN(run_bundle_write(client, out, "/venv/bin/python", "torch",
                               "/a.img", NULL),
              RUN_OK);
    struct stat st;
    CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0755);
    FILE *f = fopen(out, "rb");
    char head[11];
    run_bundle_config filled;
    CHECK(fread(head, 1, 11, f) == 11);
    CHECK(fread(&filled, sizeof filled, 1, f) == 1);
    fclose(f);
    CHECK(filled.filled == 1 && strcmp(filled.python, "/venv/bin/python") == 0);
    CHECK(strcmp(filled.preload, "torch") == 0);
    CHECK(strcmp(filled.archive, "/a.img") == 0);
    run_diag diag;
    /* A launcher is not a client. */
    CHECK_RUN(run_bundle_write(out, again, "/venv/bin/python", "x", "", &diag),
              RUN_E_NOT_FOUND);
    /* A relative interpreter path is refused. */
    CHECK_RUN(run_bundle_write(client, again, "python", "x", "", &diag),
              RUN_E_INVALID);
    /* Two blocks: which one would the client read? */
    run_bundle_config blank;
    memset(&blank, 0, sizeof blank);
    memcpy(blank.marker, RUN_BUNDLE_MARKER, sizeof RUN_BUNDLE_MARKER);
    f = fopen(client, "ab");
    fwrite(&blank, sizeof blank, 1, f);
    fclose(f);
    CHECK_RUN(run_bundle_write(client, again, "/p", "x", "", &diag),
              RUN_E_INVALID);
    CHECK(access(again, F_OK) != 0);
    unlink(client);
    unlink(out);
    rmdir(base);
}

CHECK_MAIN(TEST(test_request_round_trip),
           TEST(test_request_cut_anywhere_is_refused),
           TEST(test_request_forged_fields_are_refused),
           TEST(test_request_encoding_limits), TEST(test_small_bodies),
           TEST(test_frames_carry_descriptors),
           TEST(test_bad_frames_are_refused), TEST(test_command_lines),
           TEST(test_environment_roles), TEST(test_key),
           TEST(test_preload_and_paths), TEST(test_directory_checks),
           TEST(test_launchers))
