/*
 * diag.c - one-line diagnostics (see diag.h).
 */
#include "os/diag.h"

#include <stdio.h>

void os_diag_format(char *message, size_t size, const char *format,
                    va_list args)
{
    if (size == 0)
        return;
    if (vsnprintf(message, size, format, args) < 0)
        message[0] = 0;
}

const char *os_status_name(const char *const *names, unsigned count,
                           unsigned status)
{
    if (status >= count || !names[status])
        return "unknown status";
    return names[status];
}
