/*
 * error.c - libcds's status names; diagnostics are filled by libos's
 * os_diag_format, as librun's are.
 */
#include "internal.h"
#include "os/diag.h"

static const char *const status_names[CDS_E_STATUS_COUNT] = {
    [CDS_OK] = "success",
    [CDS_E_INVALID_ARGUMENT] = "invalid argument",
    [CDS_E_NOMEM] = "out of memory",
    [CDS_E_IO] = "input/output error",
    [CDS_E_NOT_REGULAR] = "not a regular file",
    [CDS_E_TOO_SMALL] = "file too small to be an archive",
    [CDS_E_MAGIC] = "not a pycds archive (bad magic)",
    [CDS_E_FORMAT_VERSION] = "unsupported archive format version",
    [CDS_E_HEADER_CHECKSUM] = "header checksum mismatch",
    [CDS_E_SIZE] = "file size differs from header (truncated or extended)",
    [CDS_E_FINGERPRINT] = "archive was made by a different runtime build",
    [CDS_E_LAYOUT] = "inconsistent section table",
    [CDS_E_SECTION_CHECKSUM] = "metadata section checksum mismatch",
    [CDS_E_OBJECTS_CHECKSUM] = "object region checksum mismatch",
    [CDS_E_MODULE_CHECKSUM] = "module checksum mismatch",
    [CDS_E_CORRUPT] = "archive metadata out of range",
    [CDS_E_MAP] = "cannot map archive",
    [CDS_E_ADDRESS_IN_USE] = "fixed address already in use",
    [CDS_E_FULL] = "archive limit reached",
    [CDS_E_NOT_FOUND] = "module not in archive",
    [CDS_E_DUPLICATE] = "module already in archive",
};

const char *cds_strerror(cds_status status)
{
    return os_status_name(status_names, CDS_E_STATUS_COUNT, (unsigned)status);
}

cds_status cds_fail(cds_diag *diag, cds_status status, const char *format, ...)
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
