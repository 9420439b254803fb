/*
 * internal.h - what the files of libcds share and nobody else sees.
 */
#ifndef CDS_INTERNAL_H
#define CDS_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cds/cds.h"
#include "os/array.h"
#include "os/syscalls.h"

/* Keep the on-disk structures exactly as format.h describes them. */
_Static_assert(sizeof(cds_section_entry) == 32, "section entry layout");
_Static_assert(sizeof(cds_header) == 568, "header layout");
_Static_assert(sizeof(cds_header) <= CDS_HEADER_PAGE_SIZE, "header page");
_Static_assert(sizeof(cds_module_record) == 128, "module record layout");
_Static_assert(sizeof(cds_index_slot) == 16, "index slot layout");
_Static_assert(sizeof(void *) == 8, "libcds supports 64-bit targets only");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the format is little-endian");

/* How object bytes are read in (load.c): page by page for a program's
 * first CDS_PAGED_LIMIT bytes, then whole extents, each a huge page. */
#define CDS_EXTENT_SIZE (UINT64_C(2) << 20)
#define CDS_PAGED_LIMIT (UINT64_C(1) << 20)
enum { CDS_EXTENT_NONE, CDS_EXTENT_PAGES, CDS_EXTENT_WHOLE };

struct cds_archive {
    cds_header header; /* validated copy */
    /* The object window: anonymous private memory the size of the file, at
     * the preferred address when it is free, into which the file's bytes
     * are read when first used, by pages or by extents (load.c).  Offsets
     * in the file are offsets in the window. */
    unsigned char *base;
    uint64_t size;
    int64_t delta;
    /* The file mapped read-only and shared, never written: the metadata
     * sections, and the bytes the window is filled and restored from. */
    const unsigned char *pristine;
    int fd; /* the file, for reading in; checked once per load call */
    dev_t dev;
    ino_t ino;
    unsigned char *loaded; /* per extent of the window: CDS_EXTENT_* */
    unsigned char *pages;  /* per page: read in (extents read by pages) */
    uint64_t paged_bytes;  /* read page by page so far */
    const unsigned char *sections[CDS_SECTION_KIND_COUNT + 1]; /* by kind */
    uint64_t section_sizes[CDS_SECTION_KIND_COUNT + 1];
    unsigned char *ready; /* per module: MODULE_* flags (reloc.c) */
    /* void **: a module's intern slots, for symbols->intern; room for
     * the largest stream so far, reused by every module (count stays 0). */
    os_array intern_slots;
    bool bulk_verified; /* objects and relocations checked at open, or
                           trusted (CDS_OPEN_TRUST_MODULES) */
    bool checksummed;   /* modules are checked by checksum (not trusted) */
};

/* Fill diag (if any) with status and a printf-style message; returns status. */
cds_status cds_fail(cds_diag *diag, cds_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Round up to a multiple of align (a power of two). */
static inline uint64_t cds_align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

/* Whether [offset, offset+size) lies inside [0, limit), without overflow. */
static inline bool cds_range_ok(uint64_t offset, uint64_t size, uint64_t limit)
{
    return offset <= limit && size <= limit - offset;
}

/* A module's relocation streams, in the order format.h stores and readers
 * apply them. */
typedef enum cds_stream {
    CDS_STREAM_TYPED,
    CDS_STREAM_INTERNAL,
    CDS_STREAM_INTERN,
    CDS_STREAM_COUNT
} cds_stream;

/* load.c: make the window's bytes [begin, end) the file's, reading in the
 * extents that are not yet (CDS_E_IO when the file cannot be read); and put
 * the file's bytes back over [begin, end). */
cds_status cds_load_range(cds_archive *a, uint64_t begin, uint64_t end);

/* The module whose objects hold file offset `offset` (modules' objects are
 * laid out in module order: binary search), or NULL (reloc.c). */
const cds_module_record *cds_module_at(const cds_archive *a, uint64_t offset,
                                       uint32_t *number);

/* The module whose objects hold all of [ptr, ptr + size), an address range
 * in the object window, or NULL (reloc.c). */
const cds_module_record *cds_module_holding(const cds_archive *a,
                                            const void *ptr, size_t size,
                                            uint32_t *number);
void cds_load_restore(cds_archive *a, uint64_t begin, uint64_t end);

/* checksum_avx2.c: XXH3_64bits_withSeed compiled for AVX2. */
uint64_t cds_hash_avx2(const void *data, size_t size, uint64_t seed);

/* Index building, shared by the writer and the tests of the reader. */
uint32_t cds_index_slot_count(uint32_t module_count);
uint64_t cds_index_hash(const char *name, size_t size);

#endif /* CDS_INTERNAL_H */
