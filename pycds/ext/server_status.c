/*
 * server_status.c - the fork server's answers to control messages: its
 * status report (run/server.h defines the text), and stopping on request.
 */
#define _GNU_SOURCE
#include "server_state.h"

#include <stdio.h>
#include <unistd.h>

/* The report: the loop's own fields now, then those the Python side gave
 * when the server started. */
static void status_text(const server *s, char *out, size_t size)
{
    run_report report = s->report;
    char pid[24], uptime[32], requests[24], started[24], running[24];
    char idle[48];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(uptime, sizeof uptime, "%.0f s", server_since(s->started_at));
    snprintf(requests, sizeof requests, "%lu", s->requests);
    snprintf(started, sizeof started, "%lu", s->started);
    snprintf(running, sizeof running, "%zu", server_count_running(s));
    snprintf(idle, sizeof idle, "%zu of %d", server_count_idle(s),
             s->pool_size);
    report.value[RUN_REPORT_PID] = pid;
    report.value[RUN_REPORT_UPTIME] = uptime;
    report.value[RUN_REPORT_REQUESTS] = requests;
    report.value[RUN_REPORT_PROGRAMS_RUN] = started;
    report.value[RUN_REPORT_RUNNING] = running;
    report.value[RUN_REPORT_POOL_IDLE] = idle;
    report.value[RUN_REPORT_STATE] = s->draining ? s->reason : "serving";
    run_report_format(&report, out, size);
}

void server_answer_control(server *s, int conn)
{
    run_frame frame;
    if (run_recv(conn, &frame, 1000, NULL) != RUN_OK)
        return;
    if (frame.type == RUN_MSG_STOP)
        server_stop_accepting(s, "stopped on request", 0);
    if (frame.type == RUN_MSG_STOP || frame.type == RUN_MSG_STATUS_QUERY) {
        char text[4096];
        status_text(s, text, sizeof text);
        server_reply(conn, RUN_MSG_STATUS, text);
    }
    run_frame_release(&frame);
}
