/*
 * run/server.h - what a server and its clients agree on besides the wire
 * format (run/wire.h): the files of a key, the note a server that failed
 * to start leaves behind, the start of its log's lines, the command line
 * a client starts a server with, the `serve --status` text, and the
 * server's limits and defaults.
 *
 * Defined here once: pycds-run uses it directly, the server (C in
 * pycds/ext/server.c, Python in pycds/_serve.py) through the extension's
 * runlib, which also gives Python the constants below.
 */
#ifndef RUN_SERVER_H
#define RUN_SERVER_H

#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ limits, defaults */

/* A server exits after this many seconds without programs (README: "15
 * idle minutes"); `serve --idle-timeout` overrides it, 0: never. */
#define RUN_IDLE_TIMEOUT_DEFAULT 900

/* `serve --pool N`: processes forked ahead, 0 to RUN_POOL_MAX. */
#define RUN_POOL_MAX 64

/* RUN_OK when pool is a pool size a server accepts, else RUN_E_INVALID
 * with the one-line reason. */
run_status run_pool_check(long pool, run_diag *diag);

/* For how long after a server failed to start its clients do not start it
 * again (each would import the preload set in the background for
 * nothing). */
#define RUN_FAILED_BACKOFF_SECONDS 60

/* ------------------------------------------------------- a key's files */

/*
 * A server's files are named after its socket: DIR/KEY.sock for a server
 * found by its key, or beside the socket that `serve --socket PATH` names
 * (PATH without its ".sock", if it has one, plus the suffix).
 */
typedef enum run_server_file {
    RUN_FILE_SOCKET, /* where it listens */
    RUN_FILE_LOCK,   /* held locked for its whole life: one server a key */
    RUN_FILE_LOG,    /* its standard output and error (started by a client) */
    RUN_FILE_PAGES,  /* the pages its programs write (the pool prefaults) */
    RUN_FILE_FAILED, /* why it failed to start (run_failed_note_write) */
    RUN_FILE_COUNT
} run_server_file;

/* The file's name ("socket", "lock", "log", "pages", "failed") and its
 * suffix (".sock", ...); NULL out of range. */
const char *run_server_file_name(run_server_file which);
const char *run_server_file_suffix(run_server_file which);

/* The file called name, or -1. */
int run_server_file_by_name(const char *name);

/* dir + "/" + key + the file's suffix.  RUN_E_TOO_LARGE when it does not
 * fit out, or for the socket, a socket address (108 bytes). */
run_status run_server_file_path(char *out, size_t size, const char *dir,
                                const char *key, run_server_file which,
                                run_diag *diag);

/* The file of the server listening on socket_path, beside it. */
run_status run_server_file_beside(char *out, size_t size,
                                  const char *socket_path,
                                  run_server_file which, run_diag *diag);

/* -------------------------------------------------------- failure note */

/*
 * A server that refuses to start (an import error while preloading,
 * threads, CUDA) writes why, one line, to its RUN_FILE_FAILED file
 * (temporary file, then rename); a successful start removes it.
 */
run_status run_failed_note_write(const char *path, const char *why,
                                 run_diag *diag);

/* 1 when the note at path was written less than RUN_FAILED_BACKOFF_SECONDS
 * ago (and is not dated further than that ahead), with its line in why
 * (NUL-terminated, cut to size); else 0. */
int run_failed_note_read(const char *path, char *why, size_t size);

/* ---------------------------------------------------------------- the log */

/* The start of each line a server writes to its log (RUN_FILE_LOG, its
 * standard error), from the loop in C and from the Python side alike:
 * "YYYY-MM-DD HH:MM:SS pycds serve[PID]: ", local time now, this process's
 * pid.  Written into out (cut to size, NUL-terminated); its length. */
size_t run_log_prefix(char *out, size_t size);

/* ------------------------------------------------- the server's command */

/* The hidden options of `python -m pycds serve` that only a client
 * passes: the lock it took for the server (always on descriptor
 * RUN_SERVE_LOCK_FD), and the interpreter path its key names. */
#define RUN_SERVE_LOCK_FD_OPTION "--lock-fd"
#define RUN_SERVE_KEY_PYTHON_OPTION "--key-python"
#define RUN_SERVE_LOCK_FD 3

/* The most arguments run_server_command writes, with its NULL. */
#define RUN_SERVE_MAX_ARGS (RUN_MAX_OPTIONS + 16)

/*
 * The command line a client starts a server with:
 *
 *   PYTHON [OPTIONS] -m pycds serve --preload PRELOAD [--archive ARCHIVE]
 *          --lock-fd=3 --key-python PYTHON
 *
 * into argv (NULL-terminated, pointing at the arguments and at static
 * strings); the count of arguments, or -1 with more than RUN_MAX_OPTIONS
 * options.  archive "" or NULL: none.
 */
int run_server_command(const char *python, const char *const *options,
                       int n_options, const char *preload, const char *archive,
                       const char *argv[RUN_SERVE_MAX_ARGS]);

/* --------------------------------------------------- the status report */

/*
 * What a server answers a STATUS_QUERY (and STOP) with, and `serve
 * --status` prints: one "name: value" line per field present, in this
 * order.  A field is added by adding it here and in report.c's names.
 */
typedef enum run_report_field {
    /* Filled by the server's loop (pycds/ext/server.c). */
    RUN_REPORT_PID,          /* the server's pid */
    RUN_REPORT_UPTIME,       /* "N s" */
    RUN_REPORT_REQUESTS,     /* programs asked for */
    RUN_REPORT_PROGRAMS_RUN, /* programs started (after GO) */
    RUN_REPORT_RUNNING,      /* processes not idle in the pool */
    RUN_REPORT_POOL_IDLE,    /* "IDLE of SIZE" */
    RUN_REPORT_STATE,        /* "serving", or why it stops */
    /* Filled by the Python side, once (pycds/_serve.py). */
    RUN_REPORT_VERSION,      /* the server's pycds version */
    RUN_REPORT_PYTHON,       /* the interpreter its key names */
    RUN_REPORT_OPTIONS,      /* its interpreter options, or "(none)" */
    RUN_REPORT_PRELOAD,      /* the preload set, or "(none)" */
    RUN_REPORT_ARCHIVE,      /* its archive, or "(none)" */
    RUN_REPORT_PRELOADED_IN, /* "S.SSS s" */
    RUN_REPORT_KEY,          /* its key */
    RUN_REPORT_SOCKET,       /* its socket */
    RUN_REPORT_LOG,          /* its log */
    RUN_REPORT_FIELD_COUNT
} run_report_field;

/* Each field's value, or NULL when absent. */
typedef struct run_report {
    const char *value[RUN_REPORT_FIELD_COUNT];
} run_report;

/* The field's name as the text shows it ("programs run"), NULL out of
 * range; the field called name, or -1. */
const char *run_report_field_name(run_report_field field);
int run_report_field_by_name(const char *name);

/* Write the text of report into out (always NUL-terminated, cut to size);
 * the length the whole text needs, as snprintf.  A value's newlines
 * would end its line: they are written as spaces. */
size_t run_report_format(const run_report *report, char *out, size_t size);

/*
 * Read a report's text in place: each line's newline becomes a NUL and
 * each known field's value points into text.  Lines of unknown fields (a
 * newer server's) and lines that are no "name: value" are skipped; a field
 * given twice keeps its first value.
 */
void run_report_parse(char *text, run_report *out);

#ifdef __cplusplus
}
#endif

#endif /* RUN_SERVER_H */
