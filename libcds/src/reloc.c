/*
 * reloc.c - fixing a module's words for this process: pointers into the
 * archive when it was mapped away from its preferred address, runtime types
 * and singletons (whose addresses change with every process under ASLR), and
 * strings the runtime must intern.
 */
#include <string.h>

#include "internal.h"

/* Module states, in archive->ready. */
#define MODULE_VERIFIED 1u      /* checksum known good */
#define MODULE_READY 2u         /* relocated */
#define MODULE_FILE_VERIFIED 4u /* checksum known good in the file */

/* Add the mapping delta to the archive address stored at slot. */
static inline void move_pointer(unsigned char *slot, uint64_t delta)
{
    if (delta) {
        uint64_t word;
        memcpy(&word, slot, sizeof word);
        word += delta;
        memcpy(slot, &word, sizeof word);
    }
}

static bool read_long_varint(const unsigned char **next,
                             const unsigned char *end, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *next < end; shift += 7) {
        unsigned char byte = *(*next)++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return true;
        }
    }
    return false;
}

/* Most entries are one-byte varints: those without a loop or a call. */
static inline bool read_varint(const unsigned char **next,
                               const unsigned char *end, uint64_t *value)
{
    if (*next < end && **next < 0x80) {
        *value = *(*next)++;
        return true;
    }
    return read_long_varint(next, end, value);
}

/*
 * Walk one stream of module r: every slot must be an aligned word inside the
 * module's own objects, strictly after the previous one, and every argument
 * one the runtime can resolve.  With `apply`, also set each slot as it goes
 * (relocate() says what happens when an entry is bad).
 */
static inline __attribute__((always_inline)) cds_status
walk_stream(cds_archive *a, const cds_module_record *r, cds_stream stream,
            const unsigned char *next, uint32_t size,
            const cds_symbols *symbols, bool apply)
{
    const unsigned char *end = next + size;
    if (next == end)
        return CDS_OK;
    /* Gaps count from the word before the objects: every gap is >= 1, and
     * at most the words left after the previous slot. */
    uint64_t words_left = (r->objects_end - r->objects_begin) / 8;
    unsigned char *slot = a->base + r->objects_begin - 8;
    uint64_t delta = (uint64_t)a->delta;
    size_t interns = 0; /* at most one per byte of the stream */
    while (next < end) {
        uint64_t word, arg = 0;
        if (!read_varint(&next, end, &word) ||
            (stream == CDS_STREAM_TYPED && !read_varint(&next, end, &arg)))
            return CDS_E_CORRUPT;
        uint64_t gap = stream == CDS_STREAM_TYPED ? word >> 1 : word;
        if (gap - 1 >= words_left) /* 0, or past the objects */
            return CDS_E_CORRUPT;
        words_left -= gap;
        slot += gap * 8;
        if (stream == CDS_STREAM_TYPED) {
            bool singleton = word & 1;
            void *const *table =
                singleton ? symbols->singletons : symbols->types;
            uint32_t count =
                singleton ? symbols->singleton_count : symbols->type_count;
            if (arg >= count || !table[arg])
                return CDS_E_CORRUPT;
            if (apply)
                memcpy(slot, &table[arg], sizeof table[arg]);
        } else if (apply) {
            move_pointer(slot, delta);
            if (stream == CDS_STREAM_INTERN)
                OS_ARRAY_AT(&a->intern_slots, void **, interns++) =
                    (void **)slot;
        }
    }
    /* The strings' own words were fixed by the earlier streams. */
    if (interns &&
        symbols->intern(symbols->context, (void **const *)a->intern_slots.items,
                        interns))
        return CDS_E_INVALID_ARGUMENT;
    return CDS_OK;
}

/*
 * Relocate module r: the internal stream only when `internal` (a reader at
 * the preferred address skips it).  Each stream is checked and applied in
 * one walk.  A bad typed or internal entry found half-way puts the module's
 * bytes back as the file has them, so that a refused module is untouched.
 * The intern stream hands slots to the runtime, which keeps what it is
 * given: unless the module's checksum vouches for the stream as the writer
 * wrote it (the writer refuses bad entries), it is checked whole before any
 * slot is handed over.  Each call names its stream and pass, so that each
 * gets a loop of its own.
 */
static cds_status relocate(cds_archive *a, const cds_module_record *r,
                           const cds_symbols *symbols, bool internal,
                           bool vouched)
{
    const unsigned char *typed =
        a->sections[CDS_SECTION_RELOCS] + r->relocs_offset;
    const unsigned char *pointers = typed + r->typed_size;
    const unsigned char *strings = pointers + r->internal_size;
    uint32_t pointers_size = internal ? r->internal_size : 0;
    if (r->intern_size && !symbols->intern)
        return CDS_E_INVALID_ARGUMENT; /* before anything is written */
    if (os_array_reserve(&a->intern_slots, r->intern_size) != 0)
        return CDS_E_NOMEM;
    cds_status status;
    if (!vouched &&
        (status = walk_stream(a, r, CDS_STREAM_INTERN, strings, r->intern_size,
                              symbols, false)) != CDS_OK)
        return status;
    if ((status = walk_stream(a, r, CDS_STREAM_TYPED, typed, r->typed_size,
                              symbols, true)) != CDS_OK ||
        (status = walk_stream(a, r, CDS_STREAM_INTERNAL, pointers,
                              pointers_size, symbols, true)) != CDS_OK) {
        cds_load_restore(a, r->objects_begin, r->objects_end);
        return status;
    }
    return walk_stream(a, r, CDS_STREAM_INTERN, strings, r->intern_size,
                       symbols, true);
}

cds_status cds_archive_apply_relocs(cds_archive *a, uint32_t number,
                                    const cds_symbols *symbols)
{
    if (!a || !symbols)
        return CDS_E_INVALID_ARGUMENT;
    const cds_module_record *r = cds_archive_module(a, number);
    if (!r)
        return CDS_E_CORRUPT;
    cds_status status = cds_load_range(a, r->objects_begin, r->objects_end);
    return status == CDS_OK ? relocate(a, r, symbols, true, false) : status;
}

int cds_archive_module_ready(const cds_archive *a, uint32_t number)
{
    return number < a->header.module_count &&
           (a->ready[number] & MODULE_READY) != 0;
}

/* Whether a module's objects (in `image`: the window, or the file's
 * mapping) and relocations are as the writer left them. */
static bool module_intact(const cds_archive *a, const cds_module_record *r,
                          const unsigned char *image)
{
    return cds_module_checksum(
               image + r->objects_begin,
               (size_t)(r->objects_end - r->objects_begin),
               a->sections[CDS_SECTION_RELOCS] + r->relocs_offset,
               (size_t)cds_module_relocs_size(r)) == r->checksum;
}

/* Check the module's checksum over `image` once per archive (`flag`
 * remembers it), unless the archive was checked in bulk or is trusted. */
static cds_status check_once(cds_archive *a, uint32_t number,
                             const cds_module_record *r,
                             const unsigned char *image, unsigned flag)
{
    if (a->ready[number] & flag)
        return CDS_OK;
    if (!a->bulk_verified && !module_intact(a, r, image))
        return CDS_E_MODULE_CHECKSUM;
    a->ready[number] |= flag;
    return CDS_OK;
}

/* Read the module's bytes in, and check its checksum over what was read. */
static cds_status verify_once(cds_archive *a, uint32_t number,
                              const cds_module_record *r)
{
    if (a->ready[number] & MODULE_VERIFIED)
        return CDS_OK;
    cds_status status = cds_load_range(a, r->objects_begin, r->objects_end);
    if (status != CDS_OK)
        return status;
    return check_once(a, number, r, a->base, MODULE_VERIFIED);
}

const cds_module_record *cds_module_at(const cds_archive *a, uint64_t offset,
                                       uint32_t *number)
{
    uint32_t lo = 0, hi = a->header.module_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const cds_module_record *r = cds_archive_module(a, mid);
        if (!r)
            return NULL;
        if (offset < r->objects_begin)
            hi = mid;
        else if (offset >= r->objects_end)
            lo = mid + 1;
        else {
            *number = mid;
            return r;
        }
    }
    return NULL;
}

const cds_module_record *cds_module_holding(const cds_archive *a,
                                            const void *ptr, size_t size,
                                            uint32_t *number)
{
    uintptr_t base = (uintptr_t)a->base, p = (uintptr_t)ptr;
    const cds_module_record *r = p >= base && p - base < a->size
                                     ? cds_module_at(a, p - base, number)
                                     : NULL;
    if (!r || !cds_range_ok(p - base - r->objects_begin, size,
                            r->objects_end - r->objects_begin))
        return NULL;
    return r;
}

const void *cds_archive_file_bytes(cds_archive *a, const void *ptr, size_t size,
                                   cds_status *status)
{
    uint32_t number;
    const cds_module_record *r = cds_module_holding(a, ptr, size, &number);
    if (!r) {
        *status = CDS_E_CORRUPT;
        return NULL;
    }
    *status = check_once(a, number, r, a->pristine, MODULE_FILE_VERIFIED);
    return *status == CDS_OK
               ? a->pristine + ((const unsigned char *)ptr - a->base)
               : NULL;
}

void *cds_archive_at(cds_archive *a, uint64_t offset)
{
    uint32_t number;
    const cds_module_record *r = cds_module_at(a, offset, &number);
    if (!r || cds_load_range(a, r->objects_begin, r->objects_end) != CDS_OK)
        return NULL;
    return a->base + offset;
}

static cds_status relocate_one(cds_archive *a, uint32_t number,
                               const cds_symbols *symbols)
{
    if (a->ready[number] & MODULE_READY)
        return CDS_OK;
    const cds_module_record *r = cds_archive_module(a, number);
    if (!r)
        return CDS_E_CORRUPT;
    cds_status verified = verify_once(a, number, r);
    if (verified != CDS_OK)
        return verified;
    /* Mapped at the preferred address, internal pointers are right as
     * written. */
    cds_status status = relocate(a, r, symbols, a->delta != 0, a->checksummed);
    if (status == CDS_OK)
        a->ready[number] |= MODULE_READY;
    return status;
}

cds_status cds_archive_prepare_module(cds_archive *a, uint32_t number,
                                      const cds_symbols *symbols)
{
    if (!a || !symbols)
        return CDS_E_INVALID_ARGUMENT;
    const cds_module_record *r = cds_archive_module(a, number);
    if (!r)
        return CDS_E_CORRUPT;
    if (a->ready[number] & MODULE_READY)
        return CDS_OK;
    /* The writer keeps dependency lists transitively closed, so
     * no recursion is needed: each listed module fixes only its own range. */
    const uint32_t *deps = (const uint32_t *)a->sections[CDS_SECTION_DEPS];
    for (uint32_t i = 0; i < r->deps_count; i++) {
        uint32_t dep = deps[r->deps_first + i];
        if (dep >= a->header.module_count || dep == number)
            return CDS_E_CORRUPT;
        cds_status status = relocate_one(a, dep, symbols);
        if (status != CDS_OK)
            return status;
    }
    return relocate_one(a, number, symbols);
}
