/*
 * checksum.c - the one hash function of the format, XXH3 64-bit: with AVX2
 * where the processor has it (checksum_avx2.c), else with SSE2.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

static uint64_t hash_sse2(const void *data, size_t size, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, size, seed);
}

/* Picked on first use; a race only picks the same function twice. */
static uint64_t (*hash_seeded)(const void *, size_t, uint64_t);

static uint64_t hash(const void *data, size_t size, uint64_t seed)
{
    if (!hash_seeded)
        hash_seeded =
            __builtin_cpu_supports("avx2") ? cds_hash_avx2 : hash_sse2;
    return hash_seeded(data, size, seed);
}

uint64_t cds_hash(const void *data, size_t size)
{
    return hash(data, size, 0); /* XXH3 with seed 0 is XXH3_64bits */
}

uint64_t cds_module_checksum(const void *objects, size_t objects_size,
                             const void *relocs, size_t relocs_size)
{
    return hash(relocs, relocs_size, hash(objects, objects_size, 0));
}
