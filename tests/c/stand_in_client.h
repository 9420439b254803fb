/*
 * stand_in_client.h - a file that run_bundle_write takes for pycds-run's
 * client: some bytes, an empty configuration block, some more bytes (for
 * the C tests of librun's launcher writer, with and without faults).
 */
#ifndef PYCDS_TESTS_STAND_IN_CLIENT_H
#define PYCDS_TESTS_STAND_IN_CLIENT_H

#include <stdio.h>
#include <string.h>

#include "run/run.h"

/* Write the stand-in client at `path`: 0, or -1 when it cannot be written. */
static inline int write_stand_in_client(const char *path)
{
    run_bundle_config blank;
    memset(&blank, 0, sizeof blank);
    memcpy(blank.marker, RUN_BUNDLE_MARKER, sizeof RUN_BUNDLE_MARKER);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int failed = fputs("\177ELF before", f) < 0 ||
                 fwrite(&blank, sizeof blank, 1, f) != 1 ||
                 fputs("after", f) < 0;
    return (fclose(f) != 0 || failed) ? -1 : 0;
}

#endif
