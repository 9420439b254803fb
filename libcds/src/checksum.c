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

uint64_t cds_module_checksum(const void *objects, size_t objects_size,
                             const void *relocs, size_t relocs_size)
{
    return XXH3_64bits_withSeed(relocs, relocs_size,
                                XXH3_64bits(objects, objects_size));
}
