/*
 * settings.h - the code settings an archive was made under, beyond the
 * build fingerprint: settings under which plain imports compile different
 * code objects (-O and -OO, -X no_debug_ranges).
 *
 * The dumper records this process's settings in the archive's user
 * section; share_open compares them with the process that opens the
 * archive before it installs anything, so that an archive made under other
 * settings is refused as a whole, like a foreign build.  The record is
 * text, "key=value" lines sorted by key ("debug_ranges=True", "optimize=0",
 * "pycds=1"), written and read here alone.
 */
#ifndef PYCDS_SETTINGS_H
#define PYCDS_SETTINGS_H

#include "compat.h"

/* ArchiveError.status of an archive made under other code settings. */
#define PYCDS_STATUS_SETTINGS ((cds_status)(CDS_E_STATUS_COUNT + 2))

/* This process's settings as the record holds them: new bytes. */
PyObject *pycds_settings_record(void);

/* 0 when the record (the user section) fits this process; 1 when it does
 * not, with one line in reason; -1 with an exception set. */
int pycds_settings_mismatch(const char *record, size_t size, char *reason,
                            size_t reason_size);

/* code_settings(), settings_mismatch(record). */
extern PyMethodDef pycds_settings_methods[];

#endif /* PYCDS_SETTINGS_H */
