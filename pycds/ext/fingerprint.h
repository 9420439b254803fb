/*
 * fingerprint.h - the identity of the running interpreter build, stored in
 * every archive and compared before anything in it is trusted.
 */
#ifndef PYCDS_FINGERPRINT_H
#define PYCDS_FINGERPRINT_H

#include <stddef.h>

/* Version of how pycds lays out objects in an archive; bump on any change. */
#define PYCDS_OBJECT_FORMAT 2

/* The fingerprint text and its length; valid for the life of the process. */
const char *pycds_fingerprint(size_t *size);

#endif /* PYCDS_FINGERPRINT_H */
