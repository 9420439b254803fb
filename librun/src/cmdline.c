/*
 * cmdline.c - python's command line, as CPython's getopt reads it, sorted
 * into what a preloaded interpreter can serve and what python must run
 * itself.
 *
 * Served options change nothing after start-up that a fork could not
 * carry: the server is started with the same ones (they are part of its
 * key).  Options whose effect a preloaded interpreter cannot reproduce
 * (tracing imports, inspecting afterwards, printing help) and anything
 * unknown make `plain` say why; python then runs the line itself and
 * reports any error in it exactly as it always does.
 */
#include <string.h>

#include "internal.h"

/* Flags that take no argument and only change start-up state. */
static const char served_flags[] = "bBEIOPqRsSu";

/* The flags as separate options, in the normal form. */
static const char *flag_option(char c)
{
    static const char *const names[] = {"-b", "-B", "-E", "-I", "-O", "-P",
                                        "-q", "-R", "-s", "-S", "-u"};
    const char *at = strchr(served_flags, c);
    return at ? names[at - served_flags] : NULL;
}

/* -X options a server can be started with: their effect is fixed at
 * start-up and carried over by fork. */
static int served_xoption(const char *opt)
{
    static const char *const exact[] = {
        "utf8", "utf8=0", "utf8=1", "no_debug_ranges", "faulthandler", NULL};
    static const char *const prefixes[] = {
        "int_max_str_digits=", "frozen_modules=", "pycache_prefix=",
        "cpu_count=", NULL};
    for (int i = 0; exact[i]; i++)
        if (strcmp(opt, exact[i]) == 0)
            return 1;
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(opt, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int add_option(run_cmdline *out, const char *option)
{
    if (out->n_options >= RUN_MAX_OPTIONS) {
        out->plain = "more interpreter options than pycds-run forwards";
        return 0;
    }
    out->options[out->n_options++] = option;
    return 1;
}

/* The program after the options: a file, `-` or nothing. */
static void take_program(int argc, char *const *argv, int at, int stdin_is_tty,
                         run_cmdline *out)
{
    if (at < argc && strcmp(argv[at], "-") != 0) {
        out->mode = RUN_MODE_SCRIPT;
        out->target = argv[at];
        out->argv0 = argv[at];
        out->first_arg = at + 1;
        return;
    }
    out->mode = stdin_is_tty ? RUN_MODE_REPL : RUN_MODE_STDIN;
    out->target = NULL;
    out->argv0 = at < argc ? "-" : "";
    out->first_arg = at < argc ? at + 1 : at;
}

void run_cmdline_parse(int argc, char *const *argv, int stdin_is_tty,
                       run_cmdline *out)
{
    memset(out, 0, sizeof *out);
    int at = 0;
    while (at < argc) {
        const char *arg = argv[at];
        if (arg[0] != '-' || arg[1] == 0)
            break; /* the program: a file, or "-" */
        if (strcmp(arg, "--") == 0) {
            at++;
            break;
        }
        if (arg[1] == '-') {
            if (strcmp(arg, "--check-hash-based-pycs") == 0 && at + 1 < argc) {
                if (!add_option(out, arg) || !add_option(out, argv[at + 1]))
                    return;
                at += 2;
                continue;
            }
            out->plain = "a long option (help, version or unknown)";
            return;
        }
        /* A cluster of short options: -Bu, -Bc CODE, -Xutf8, -W arg. */
        for (const char *c = arg + 1; *c; c++) {
            const char *flag = flag_option(*c);
            if (flag) {
                if (!add_option(out, flag))
                    return;
                continue;
            }
            if (*c == 'c' || *c == 'm' || *c == 'X' || *c == 'W') {
                const char *value = c[1] ? c + 1 : NULL;
                if (!value) {
                    if (at + 1 >= argc) {
                        out->plain = "an option without its argument";
                        return;
                    }
                    value = argv[++at];
                }
                if (*c == 'c' || *c == 'm') {
                    out->mode = *c == 'c' ? RUN_MODE_COMMAND : RUN_MODE_MODULE;
                    out->target = value;
                    out->argv0 = *c == 'c' ? "-c" : "-m";
                    out->first_arg = at + 1;
                    return;
                }
                if (*c == 'W') {
                    out->plain = "-W: warnings at import time would not be "
                                 "shown again";
                    return;
                }
                if (!served_xoption(value)) {
                    out->plain = "an -X option that a preloaded interpreter "
                                 "cannot honour";
                    return;
                }
                if (!add_option(out, "-X") || !add_option(out, value))
                    return;
                break; /* the value took the rest of the cluster */
            }
            out->plain = "an interpreter option that a preloaded interpreter "
                         "cannot honour (-d, -i, -v, -x, -h, -V, ...)";
            return;
        }
        at++;
    }
    take_program(argc, argv, at, stdin_is_tty, out);
}
