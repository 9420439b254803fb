/*
 * diag.h - one-line diagnostics: what libcds's cds_diag and librun's
 * run_diag hold, filled the same way.  Each library keeps its own status
 * enum and names (its error.c); the filling and the naming are here.
 */
#ifndef OS_DIAG_H
#define OS_DIAG_H

#include <stdarg.h>
#include <stddef.h>

/* Write the printf-style line into message[size] (truncated, always
 * terminated). */
void os_diag_format(char *message, size_t size, const char *format,
                    va_list args) __attribute__((format(printf, 3, 0)));

/* names[status], or "unknown status" when status is out of range or has
 * no name. */
const char *os_status_name(const char *const *names, unsigned count,
                           unsigned status);

#endif /* OS_DIAG_H */
