/*
 * checksum_avx2.c - the format's hash, XXH3 64-bit, compiled for AVX2:
 * checksum.c takes it where the processor has AVX2.  The same hash as the
 * SSE2 one (XXH3's result does not depend on the vector unit), in about half
 * the instructions per byte: module checksums are most of what a start
 * spends hashing.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))),                  \
                             apply_to = function)
#else
#pragma GCC target("avx2")
#endif
#include <immintrin.h> /* before xxhash.h, which takes AVX2 as given */
#define XXH_INLINE_ALL
#define XXH_VECTOR 2 /* XXH_AVX2 */
#include <xxhash.h>

#include "internal.h"

uint64_t cds_hash_avx2(const void *data, size_t size, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, size, seed);
}
#if defined(__clang__)
#pragma clang attribute pop
#endif
