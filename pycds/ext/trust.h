/*
 * trust.h - whether an archive may be loaded at all: it is executable code.
 */
#ifndef PYCDS_TRUST_H
#define PYCDS_TRUST_H

#include <stddef.h>

#include "cds/cds.h"

/* ArchiveError.status of an archive refused as untrusted: beyond libcds's. */
#define PYCDS_STATUS_UNTRUSTED ((cds_status)(CDS_E_STATUS_COUNT + 1))

/*
 * 0 when path may be trusted: a file owned by this user or root and
 * writable by nobody else, in a directory that follows libos's rule
 * (os/trust.h: owned by this user or root, writable by no one else unless
 * sticky, like /tmp), as OpenSSH requires of keys.  A missing file passes
 * if its directory does.  A path through symbolic links needs the
 * directory of each link and of the file at the end to follow the rule.
 * -1 otherwise, with one line in reason.
 */
int pycds_check_trust(const char *path, char *reason, size_t size);

#endif /* PYCDS_TRUST_H */
