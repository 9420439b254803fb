/*
 * run/run.h - librun, the plumbing of pycds's preloaded interpreters in
 * plain C (libc, xxHash and libos), shared by the native client pycds-run
 * and the server inside the pycds._cds extension so that each rule is
 * written once: the wire format (run/wire.h), python's command line, which
 * environment variables the interpreter reads at start-up, the key that
 * names a server, the per-user directory of sockets, and the launcher's
 * embedded configuration.  What a server and its clients agree on besides
 * the wire (its files, command line, status report, limits) is in
 * run/server.h; pycds's own environment variables in run/variables.h.
 *
 * Errors are run_status codes; run_strerror() names them, and functions
 * that fail for a specific reason fill an optional run_diag with one line.
 * Nothing here allocates except where it says so, and nothing exits.
 */
#ifndef RUN_RUN_H
#define RUN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "os/array.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum run_status {
    RUN_OK = 0,
    RUN_E_INVALID,    /* caller error: bad argument */
    RUN_E_NOMEM,      /* out of memory */
    RUN_E_IO,         /* a system call failed (errno in the diag) */
    RUN_E_EOF,        /* the peer closed the connection */
    RUN_E_TIMEOUT,    /* no answer in time */
    RUN_E_PROTOCOL,   /* not our protocol, or another version of it */
    RUN_E_MALFORMED,  /* a frame's body does not decode */
    RUN_E_TOO_LARGE,  /* over RUN_MAX_BODY, RUN_MAX_FDS or a path limit */
    RUN_E_UNSAFE,     /* a directory or socket others could control */
    RUN_E_UNSERVABLE, /* python must run this itself (the diag says why) */
    RUN_E_NOT_FOUND,  /* no such directory, or no embedded configuration */
    RUN_E_STATUS_COUNT
} run_status;

const char *run_strerror(run_status status);

#define RUN_DIAG_SIZE 320
typedef struct run_diag {
    run_status status;
    char message[RUN_DIAG_SIZE];
} run_diag;

/* ---------------------------------------------------------------- frames */

/* A received frame: its type, its body (malloc'd, NUL-terminated one byte
 * past length, NULL when empty) and the descriptors that came with it
 * (close-on-exec). */
typedef struct run_frame {
    uint16_t type;
    uint32_t length;
    unsigned char *body;
    int n_fds;
    int fds[RUN_MAX_FDS + 3];
} run_frame;

/*
 * Send one frame with fds attached, whole: short writes are resumed,
 * EINTR retried, SIGPIPE never raised (RUN_E_EOF when the peer is gone).
 */
run_status run_send(int sock, run_message type, const void *body,
                    uint32_t length, const int *fds, int n_fds, run_diag *diag);

/*
 * Receive one frame.  timeout_ms < 0 waits for ever; the time-out covers
 * the whole frame.  RUN_E_EOF when the peer closed before a frame began.
 * On failure nothing is left allocated or open.
 */
run_status run_recv(int sock, run_frame *frame, int timeout_ms, run_diag *diag);

/* Free the body and close the descriptors a frame still holds. */
void run_frame_release(run_frame *frame);

/* ------------------------------------------------------ request encoding */

/* A growable byte buffer: the bytes are bytes.items, bytes.count of them
 * (libos's array); `failed` is set once an allocation fails.  A zeroed
 * run_buffer ({0}) is an empty one. */
typedef struct run_buffer {
    os_array bytes;
    int failed;
} run_buffer;

/* Append size bytes; on a failed allocation, `failed` is set and nothing
 * more is appended. */
void run_buffer_append(run_buffer *buffer, const void *data, size_t size);
void run_buffer_free(run_buffer *buffer);

/* Append a request's body to out.  RUN_E_TOO_LARGE past RUN_MAX_BODY. */
run_status run_request_encode(const run_request *request, run_buffer *out,
                              run_diag *diag);

/*
 * Decode a request body.  Every count and length is checked against what
 * is left before it is used; strings must end with their NUL.  The result
 * points into body; free it with run_request_free.
 */
run_status run_request_decode(const unsigned char *body, uint32_t length,
                              run_request *out, run_diag *diag);

void run_request_free(run_request *request);

/* Encode and decode the small bodies. */
void run_exit_encode(const run_exit *exit_status, unsigned char out[16]);
run_status run_exit_decode(const unsigned char *body, uint32_t length,
                           run_exit *out);
void run_i32_encode(int32_t value, unsigned char out[4]);
run_status run_i32_decode(const unsigned char *body, uint32_t length,
                          int32_t *out);

/* --------------------------------------------------- python command line */

/*
 * python's own command line (everything after argv[0]), parsed the way
 * CPython parses it: option clusters (-Bc CODE), options with arguments
 * (-X opt, -Xopt, -W arg, --check-hash-based-pycs MODE), `--`, `-`, and the
 * program (-c, -m, a file, stdin or the REPL) that ends the options.
 *
 * `options` receives the interpreter options in a normal form that python
 * accepts (one flag per element: "-B", "-X", "utf8", ...): the server is
 * started with exactly these, and they are part of its key.  `plain` is
 * set when the line holds something a preloaded interpreter cannot serve
 * exactly as python would (-i, -v, -X importtime, --version, an unknown
 * option, ...): the caller then runs python itself, which also reports
 * any error in the line.
 */
#define RUN_MAX_OPTIONS 64

typedef struct run_cmdline {
    run_mode mode;
    const char *target; /* file, module or command; NULL for stdin/REPL */
    const char *argv0;  /* sys.argv[0]: the file, "-c", "-m", "-" or "" */
    int first_arg;      /* index of sys.argv[1] in the parsed array */
    int n_options;
    const char *options[RUN_MAX_OPTIONS];
    const char *plain; /* why python must run this itself, or NULL */
} run_cmdline;

void run_cmdline_parse(int argc, char *const *argv, int stdin_is_tty,
                       run_cmdline *out);

/* --------------------------------------------------- start-up environment */

/* What the interpreter does with an environment variable. */
typedef enum run_env_role {
    RUN_ENV_RUNTIME = 0, /* read while running, if at all: passed along */
    RUN_ENV_KEY,         /* read at start-up: servers differ by its value */
    RUN_ENV_PLAIN,       /* when set non-empty, python must run itself */
} run_env_role;

/* The role of the variable in an environment entry "NAME=value" (or of a
 * bare NAME). */
run_env_role run_env_role_of(const char *entry);

/* The first entry of env (NULL-terminated "NAME=value" strings) whose
 * variable forces plain python, or NULL. */
const char *run_env_forcing_plain(char *const *env);

/*
 * The first start-up variable whose value differs between two
 * environments (n_a and n_b entries), as "NAME", written to name; 0 when
 * they agree on every RUN_ENV_KEY variable.
 */
int run_env_startup_differs(const char *const *a, size_t n_a,
                            const char *const *b, size_t n_b, char *name,
                            size_t name_size);

/* ------------------------------------------------------------- the key */

/* A server is found by a key: 32 hex digits and a NUL. */
#define RUN_KEY_SIZE 33

typedef struct run_key_input {
    const char *python;         /* the interpreter's path as exec'd */
    const char *const *options; /* normalised interpreter options */
    int n_options;
    const char *preload;    /* normalised (run_preload_normalize) */
    const char *archive;    /* absolute path or "" */
    const char *const *env; /* the whole environment */
    size_t n_env;
} run_key_input;

/* XXH3-128 over the wire version, the interpreter, its options, the preload
 * set, the archive and the sorted NAME=value of every RUN_ENV_KEY variable. */
run_status run_key(const run_key_input *input, char key[RUN_KEY_SIZE],
                   run_diag *diag);

/*
 * A preload list as given ("boto3, numpy", or with spaces) in its normal
 * form: dotted module names joined by ",", in the order given, without
 * duplicates.  RUN_E_INVALID, naming the entry, when one is not a module
 * name.
 */
run_status run_preload_normalize(const char *list, char *out, size_t size,
                                 run_diag *diag);

/* An absolute form of path: as is when it starts with "/", else cwd + "/"
 * + path, unnormalised (as CPython makes a script's __file__). */
run_status run_absolute_path(const char *path, char *out, size_t size,
                             run_diag *diag);

/* ------------------------------------------------- per-user directory */

/*
 * The directory of this user's servers: $XDG_RUNTIME_DIR/pycds when
 * XDG_RUNTIME_DIR is an absolute path, else /tmp/pycds-UID.  With create,
 * it is made (mode 0700) when missing.  Then it must be a real directory
 * (not a symbolic link) owned by this user with no permission for group or
 * others, or RUN_E_UNSAFE: sockets in it are trusted as this user's own.
 */
run_status run_dir(char *out, size_t size, int create, run_diag *diag);

/* Check an existing directory as run_dir does. */
run_status run_dir_check(const char *path, run_diag *diag);

/* A server's files in it: run/server.h. */

/* ------------------------------------------------------------- launcher */

/*
 * A launcher (`python -m pycds bundle`) is a copy of the pycds-run binary
 * whose embedded configuration block names the interpreter, the preload
 * set and the archive.  The block is a static in the client, found in the
 * file by its marker and filled in; the client reads its own copy, so a
 * launcher costs nothing over the client.
 */
#define RUN_BUNDLE_MARKER "pycds-run launcher configuration, format 1"
#define RUN_BUNDLE_FIELD 1024

typedef struct run_bundle_config {
    char marker[48]; /* RUN_BUNDLE_MARKER, NUL-padded */
    uint32_t filled; /* 1 in a launcher, 0 in pycds-run itself */
    uint32_t reserved;
    char python[RUN_BUNDLE_FIELD];
    char preload[RUN_BUNDLE_FIELD];
    char archive[RUN_BUNDLE_FIELD];
} run_bundle_config;

/* Write a launcher to out_path (temporary file, then rename; mode 0755)
 * from the client binary at client_path. */
run_status run_bundle_write(const char *client_path, const char *out_path,
                            const char *python, const char *preload,
                            const char *archive, run_diag *diag);

#ifdef __cplusplus
}
#endif

#endif /* RUN_RUN_H */
