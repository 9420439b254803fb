/*
 * report.c - the server's status report: the text a server answers a
 * STATUS_QUERY with and `serve --status` prints, written and read here
 * only ("name: value" lines, in run_report_field's order).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "run/server.h"

static const char *const names[RUN_REPORT_FIELD_COUNT] = {
    [RUN_REPORT_PID] = "pid",
    [RUN_REPORT_UPTIME] = "uptime",
    [RUN_REPORT_REQUESTS] = "requests",
    [RUN_REPORT_PROGRAMS_RUN] = "programs run",
    [RUN_REPORT_RUNNING] = "running",
    [RUN_REPORT_POOL_IDLE] = "pool idle",
    [RUN_REPORT_STATE] = "state",
    [RUN_REPORT_VERSION] = "pycds",
    [RUN_REPORT_PYTHON] = "python",
    [RUN_REPORT_OPTIONS] = "options",
    [RUN_REPORT_PRELOAD] = "preload",
    [RUN_REPORT_ARCHIVE] = "archive",
    [RUN_REPORT_PRELOADED_IN] = "preloaded in",
    [RUN_REPORT_KEY] = "key",
    [RUN_REPORT_SOCKET] = "socket",
    [RUN_REPORT_LOG] = "log",
};

/* Between a name and its value. */
#define SEPARATOR ": "

const char *run_report_field_name(run_report_field field)
{
    return (unsigned)field < RUN_REPORT_FIELD_COUNT ? names[field] : NULL;
}

int run_report_field_by_name(const char *name)
{
    for (int i = 0; i < RUN_REPORT_FIELD_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Append s (its first n bytes) at *used, as far as it fits. */
static void put(char *out, size_t size, size_t *used, const char *s, size_t n)
{
    if (*used < size) {
        size_t room = size - *used - 1;
        memcpy(out + *used, s, n < room ? n : room);
    }
    *used += n;
}

size_t run_report_format(const run_report *report, char *out, size_t size)
{
    size_t used = 0;
    for (int i = 0; i < RUN_REPORT_FIELD_COUNT; i++) {
        const char *value = report->value[i];
        if (!value)
            continue;
        put(out, size, &used, names[i], strlen(names[i]));
        put(out, size, &used, SEPARATOR, strlen(SEPARATOR));
        for (const char *at = value; *at;) {
            size_t n = strcspn(at, "\n");
            put(out, size, &used, at, n);
            at += n;
            if (*at) {
                put(out, size, &used, " ", 1);
                at++;
            }
        }
        put(out, size, &used, "\n", 1);
    }
    if (size)
        out[used < size ? used : size - 1] = 0;
    return used;
}

void run_report_parse(char *text, run_report *out)
{
    memset(out, 0, sizeof *out);
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        char *separator = strstr(line, SEPARATOR);
        if (separator) {
            *separator = 0;
            int field = run_report_field_by_name(line);
            if (field >= 0 && !out->value[field])
                out->value[field] = separator + strlen(SEPARATOR);
            else
                *separator = SEPARATOR[0]; /* the line stays whole */
        }
        line = end ? end + 1 : NULL;
    }
}
