/*
 * checksum.c - the one hash function of the format, XXH3 64-bit.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

uint64_t cds_hash(const void *data, size_t size)
{
    return XXH3_64bits(data, size);
}
