/*
 * error.c - librun's status names; diagnostics are filled by libos's
 * os_diag_format, as libcds's are.
 */
#include "internal.h"
#include "os/diag.h"

static const char *const status_names[RUN_E_STATUS_COUNT] = {
    [RUN_OK] = "success",
    [RUN_E_INVALID] = "invalid argument",
    [RUN_E_NOMEM] = "out of memory",
    [RUN_E_IO] = "input/output error",
    [RUN_E_EOF] = "connection closed",
    [RUN_E_TIMEOUT] = "timed out",
    [RUN_E_PROTOCOL] = "not the pycds-run protocol or another version of it",
    [RUN_E_MALFORMED] = "malformed message",
    [RUN_E_TOO_LARGE] = "too large",
    [RUN_E_UNSAFE] = "not private to this user",
    [RUN_E_UNSERVABLE] = "python must run this itself",
    [RUN_E_NOT_FOUND] = "not found",
};

const char *run_strerror(run_status status)
{
    return os_status_name(status_names, RUN_E_STATUS_COUNT, (unsigned)status);
}

run_status run_fail(run_diag *diag, run_status status, const char *format, ...)
{
    if (diag) {
        va_list args;
        va_start(args, format);
        diag->status = status;
        os_diag_format(diag->message, sizeof diag->message, format, args);
        va_end(args);
    }
    return status;
}
