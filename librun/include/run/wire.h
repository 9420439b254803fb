/*
 * run/wire.h - the wire format of pycds's preloaded interpreters: every
 * message between the client (pycds-run), the server and the program's
 * process.  Defined here once; the client and the extension both encode and
 * decode through librun (frame.c, request.c), never by hand.
 *
 * Transport: one Unix stream socket per program, local only, so integers
 * are in the host's byte order.  Every message is a frame: a 16-byte header,
 * then `length` bytes of body.  File descriptors travel as SCM_RIGHTS on a
 * frame's first byte.
 *
 * A program's conversation:
 *
 *   client -> server   REQUEST   body: run_request; fd: the client's cwd
 *   child  -> client   READY     body: i32 pid; fd: a pidfd of the child
 *                   or PLAIN     body: reason (the client runs plain python)
 *   client -> child    GO        fds: each fd the client had open at start,
 *                                in the order of the request's fd numbers
 *                                (the program starts only now: a client
 *                                 that gave up before GO never has its
 *                                 program run, so nothing runs twice; and
 *                                 its descriptors travel only now, so a
 *                                 server that never answers holds none of
 *                                 them: no pipe of the caller's stays
 *                                 open behind its back)
 *   server -> client   STOPPED   body: i32 signal (0 or more times)
 *   child or server -> client  EXIT  body: run_exit
 *
 * Before forking, the server may answer PLAIN (it refuses) or STALE (its
 * preloaded code changed: start a fresh server).  Control: STATUS_QUERY is
 * answered by STATUS (body: text, run/server.h's status report); STOP makes
 * the server finish its running programs and exit (answered by STATUS).
 *
 * Inside the server, a pre-forked child of the pool is handed the client's
 * connection as HANDOFF (no body; fd: the connection) over its own channel.
 */
#ifndef RUN_WIRE_H
#define RUN_WIRE_H

#include <stdint.h>

#define RUN_WIRE_MAGIC UINT32_C(0x52534350) /* "PCSR" */
#define RUN_WIRE_VERSION 1

typedef struct run_frame_header {
    uint32_t magic;   /* RUN_WIRE_MAGIC */
    uint16_t version; /* RUN_WIRE_VERSION */
    uint16_t type;    /* run_message */
    uint32_t length;  /* body bytes that follow */
    uint32_t reserved;
} run_frame_header;

typedef enum run_message {
    RUN_MSG_REQUEST = 1,
    RUN_MSG_READY,
    RUN_MSG_GO,
    RUN_MSG_PLAIN,
    RUN_MSG_STALE,
    RUN_MSG_STOPPED,
    RUN_MSG_EXIT,
    RUN_MSG_STATUS_QUERY,
    RUN_MSG_STATUS,
    RUN_MSG_STOP,
    RUN_MSG_HANDOFF,
    RUN_MSG_COUNT
} run_message;

/* The largest body accepted: argv and environment together are bounded by
 * the kernel's ARG_MAX (2 MiB by default); twice that leaves room. */
#define RUN_MAX_BODY (UINT32_C(4) << 20)

/* File descriptors a request may carry besides the cwd: SCM_MAX_FD is 253. */
#define RUN_MAX_FDS 250

/* How the program is given, as on python's command line. */
typedef enum run_mode {
    RUN_MODE_SCRIPT = 1, /* python FILE */
    RUN_MODE_MODULE,     /* python -m MODULE */
    RUN_MODE_COMMAND,    /* python -c COMMAND */
    RUN_MODE_STDIN,      /* python - , or no argument and stdin not a tty */
    RUN_MODE_REPL,       /* no argument (or -) and stdin a terminal */
    RUN_MODE_COUNT
} run_mode;

/* One resource limit of the client (getrlimit). */
typedef struct run_limit {
    uint32_t resource;
    uint32_t reserved;
    uint64_t soft;
    uint64_t hard;
} run_limit;

#define RUN_MAX_LIMITS 32

/* CPUs a program may run on, as a bit mask (sched_getaffinity). */
#define RUN_CPU_WORDS 16 /* 1024 CPUs */

/*
 * A request, decoded.  Strings point into the frame's body, which must
 * outlive the request; the arrays of pointers are allocated by
 * run_request_decode and freed by run_request_free.
 *
 * Body layout, in this order (u32 and friends in host order; a string is a
 * u32 byte count, the bytes, and a NUL that the count excludes):
 *   u32 mode, u32 umask, u64 ignored_signals, u64 blocked_signals,
 *   u16 rows, u16 cols, i32 nice, u32 CPU mask words (at most
 *   RUN_CPU_WORDS), that many u64, u32 limit count, that many run_limit,
 *   u32 fd count, that many i32 client fd numbers,
 *   string cwd, string target,
 *   u32 option count, strings; u32 argument count, strings;
 *   u32 environment count, strings ("NAME=value").
 */
typedef struct run_request {
    uint32_t mode;            /* run_mode */
    uint32_t umask;           /* the client's umask */
    uint64_t ignored_signals; /* bit n-1: signal n was SIG_IGN in the client */
    uint64_t blocked_signals; /* bit n-1: signal n was blocked */
    uint16_t rows, cols;      /* terminal size of the client's first tty
                                 fd, 0 when none; informational (the
                                 terminal itself carries it) */
    int32_t nice;             /* the client's nice value */
    uint32_t n_cpu_words;     /* 0: the CPU mask is unknown */
    uint64_t cpus[RUN_CPU_WORDS];
    uint32_t n_limits;
    run_limit limits[RUN_MAX_LIMITS];
    uint32_t n_fds;                  /* fds the GO will carry */
    int32_t fd_numbers[RUN_MAX_FDS]; /* the client's number for each */
    const char *cwd;                 /* informational; the cwd fd rules */
    const char *target; /* script path, module or command; for stdin and
                           the REPL, sys.argv[0] ("-" or "") */
    uint32_t n_options;
    const char *const *options; /* normalised interpreter options */
    uint32_t n_args;
    const char *const *args; /* sys.argv[1:] */
    uint32_t n_env;
    const char *const *env; /* the whole environment, "NAME=value" */
} run_request;

/* How the program ended. */
typedef struct run_exit {
    uint32_t signaled; /* 0: exited with code; 1: killed by signal */
    int32_t value;     /* exit code, or signal number */
    uint32_t core_dumped;
    uint32_t reserved;
} run_exit;

#endif /* RUN_WIRE_H */
