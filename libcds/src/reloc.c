/*
 * reloc.c - fixing a module's words for this process: pointers into the
 * archive when it was mapped away from its preferred address, runtime types
 * and singletons (whose addresses change with every process under ASLR), and
 * strings the runtime must intern.
 */
#include <string.h>

#include "internal.h"

/* Module states, in archive->ready. */
#define MODULE_VERIFIED 1u /* checksum known good */
#define MODULE_READY 2u    /* relocated */

/* Every entry must name an aligned word inside the object region and an
 * argument the caller can resolve; check the whole range before writing. */
static cds_status check_relocs(const cds_archive *a, const cds_reloc *table,
                               uint32_t count, const cds_symbols *symbols)
{
    uint64_t objects_end =
        CDS_OBJECTS_OFFSET + a->section_sizes[CDS_SECTION_OBJECTS];
    for (uint32_t i = 0; i < count; i++) {
        cds_reloc r = table[i];
        uint64_t offset = cds_reloc_offset_of(r);
        uint32_t arg = cds_reloc_arg_of(r);
        if (offset < CDS_OBJECTS_OFFSET || offset + 8 > objects_end)
            return CDS_E_CORRUPT;
        switch (cds_reloc_kind_of(r)) {
        case CDS_RELOC_INTERNAL: break;
        case CDS_RELOC_TYPE:
            if (arg >= symbols->type_count || !symbols->types[arg])
                return CDS_E_CORRUPT;
            break;
        case CDS_RELOC_SINGLETON:
            if (arg >= symbols->singleton_count || !symbols->singletons[arg])
                return CDS_E_CORRUPT;
            break;
        case CDS_RELOC_INTERN:
            if (!symbols->intern)
                return CDS_E_INVALID_ARGUMENT;
            break;
        default: return CDS_E_CORRUPT;
        }
    }
    return CDS_OK;
}

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

cds_status cds_archive_apply_relocs(cds_archive *a, uint32_t first,
                                    uint32_t count, const cds_symbols *symbols)
{
    if (!a || !symbols)
        return CDS_E_INVALID_ARGUMENT;
    uint64_t total = a->section_sizes[CDS_SECTION_RELOCS] / sizeof(cds_reloc);
    if (!cds_range_ok(first, count, total))
        return CDS_E_CORRUPT;
    const cds_reloc *table =
        (const cds_reloc *)a->sections[CDS_SECTION_RELOCS] + first;
    cds_status status = check_relocs(a, table, count, symbols);
    if (status != CDS_OK)
        return status;

    unsigned char *base = a->base;
    uint64_t delta = (uint64_t)a->delta;
    bool interning = false;
    for (uint32_t i = 0; i < count; i++) {
        cds_reloc r = table[i];
        unsigned char *slot = base + cds_reloc_offset_of(r);
        void *value;
        switch (cds_reloc_kind_of(r)) {
        case CDS_RELOC_INTERNAL: move_pointer(slot, delta); break;
        case CDS_RELOC_TYPE:
            value = symbols->types[cds_reloc_arg_of(r)];
            memcpy(slot, &value, sizeof value);
            break;
        case CDS_RELOC_SINGLETON:
            value = symbols->singletons[cds_reloc_arg_of(r)];
            memcpy(slot, &value, sizeof value);
            break;
        case CDS_RELOC_INTERN:
            /* A pointer into the archive like any other; interned in a
             * second pass, once the string's own words are fixed too. */
            move_pointer(slot, delta);
            interning = true;
            break;
        }
    }
    if (!interning)
        return CDS_OK;
    for (uint32_t i = 0; i < count; i++) {
        if (cds_reloc_kind_of(table[i]) != CDS_RELOC_INTERN)
            continue;
        void **slot = (void **)(base + cds_reloc_offset_of(table[i]));
        if (symbols->intern(symbols->context, slot) != 0)
            return CDS_E_INVALID_ARGUMENT;
    }
    return CDS_OK;
}

int cds_archive_module_ready(const cds_archive *a, uint32_t number)
{
    return number < a->header.module_count &&
           (a->ready[number] & MODULE_READY) != 0;
}

/* Whether a module's objects and relocations are as the writer left them. */
static bool module_intact(const cds_archive *a, const cds_module_record *r)
{
    const cds_reloc *relocs =
        r->reloc_count ? (const cds_reloc *)a->sections[CDS_SECTION_RELOCS] +
                             r->reloc_first
                       : NULL;
    return cds_module_checksum(a->base + r->objects_begin,
                               (size_t)(r->objects_end - r->objects_begin),
                               relocs, r->reloc_count * sizeof(cds_reloc)) ==
           r->checksum;
}

static cds_status verify_once(cds_archive *a, uint32_t number,
                              const cds_module_record *r)
{
    if (a->bulk_verified || (a->ready[number] & MODULE_VERIFIED))
        return CDS_OK;
    if (!module_intact(a, r))
        return CDS_E_MODULE_CHECKSUM;
    a->ready[number] |= MODULE_VERIFIED;
    return CDS_OK;
}

cds_status cds_archive_check_range(cds_archive *a, const void *ptr, size_t size)
{
    if (!a)
        return CDS_E_INVALID_ARGUMENT;
    uintptr_t base = (uintptr_t)a->base, p = (uintptr_t)ptr;
    if (p < base || p - base > a->size)
        return CDS_E_CORRUPT;
    uint64_t offset = p - base;
    /* Modules' objects are laid out in module order: binary search. */
    uint32_t lo = 0, hi = a->header.module_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const cds_module_record *r = cds_archive_module(a, mid);
        if (!r)
            return CDS_E_CORRUPT;
        if (offset < r->objects_begin)
            hi = mid;
        else if (offset >= r->objects_end)
            lo = mid + 1;
        else if (!cds_range_ok(offset - r->objects_begin, size,
                               r->objects_end - r->objects_begin))
            return CDS_E_CORRUPT;
        else
            return verify_once(a, mid, r);
    }
    return CDS_E_CORRUPT;
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
     * written: skip the trailing run of them. */
    uint32_t count = r->reloc_count;
    if (a->delta == 0 && r->reloc_internal <= count)
        count -= r->reloc_internal;
    cds_status status =
        cds_archive_apply_relocs(a, r->reloc_first, count, symbols);
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
