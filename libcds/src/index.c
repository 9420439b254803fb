/*
 * index.c - the module index: name -> module number, with no allocation.
 *
 * Open addressing with linear probing over a power-of-two table at most half
 * full, so a lookup touches one or two slots.  Each slot keeps the full
 * 64-bit name hash, so names are compared only on a hash match.
 */
#include <string.h>

#include "internal.h"

uint64_t cds_index_hash(const char *name, size_t size)
{
    return cds_hash(name, size);
}

uint32_t cds_index_slot_count(uint32_t module_count)
{
    uint32_t slots = 8;
    while (slots < 2 * (uint64_t)module_count)
        slots *= 2;
    return slots;
}

const cds_module_record *cds_archive_module(const cds_archive *a,
                                            uint32_t number)
{
    if (number >= a->header.module_count)
        return NULL;
    const cds_module_record *r =
        (const cds_module_record *)a->sections[CDS_SECTION_MODULES] + number;
    uint64_t strings = a->section_sizes[CDS_SECTION_STRINGS];
    const cds_string_ref *refs[] = {&r->name, &r->origin, &r->cached,
                                    &r->extra};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (!cds_range_ok(refs[i]->offset, refs[i]->size, strings))
            return NULL;
    uint64_t objects = a->section_sizes[CDS_SECTION_OBJECTS];
    if (r->objects_begin < CDS_OBJECTS_OFFSET || r->objects_begin % 8 != 0 ||
        r->objects_end < r->objects_begin ||
        !cds_range_ok(r->objects_begin - CDS_OBJECTS_OFFSET,
                      r->objects_end - r->objects_begin, objects))
        return NULL;
    if (r->root < CDS_OBJECTS_OFFSET || r->root % 8 != 0 ||
        r->root - CDS_OBJECTS_OFFSET >= objects)
        return NULL;
    uint64_t deps = a->section_sizes[CDS_SECTION_DEPS] / sizeof(uint32_t);
    if (!cds_range_ok(r->relocs_offset, cds_module_relocs_size(r),
                      a->section_sizes[CDS_SECTION_RELOCS]) ||
        !cds_range_ok(r->deps_first, r->deps_count, deps))
        return NULL;
    return r;
}

const char *cds_archive_string(const cds_archive *a, cds_string_ref ref,
                               size_t *size)
{
    if (!cds_range_ok(ref.offset, ref.size,
                      a->section_sizes[CDS_SECTION_STRINGS])) {
        *size = 0;
        return "";
    }
    *size = ref.size;
    return (const char *)a->sections[CDS_SECTION_STRINGS] + ref.offset;
}

cds_status cds_archive_find(const cds_archive *a, const char *name,
                            size_t name_size, uint32_t *number)
{
    const cds_index_header *index =
        (const cds_index_header *)a->sections[CDS_SECTION_INDEX];
    const cds_index_slot *slots = (const cds_index_slot *)(index + 1);
    uint32_t mask = index->slot_count - 1; /* a power of two, checked at open */
    uint64_t hash = cds_index_hash(name, name_size);

    for (uint32_t probe = 0; probe < index->slot_count; probe++) {
        const cds_index_slot *slot = &slots[(hash + probe) & mask];
        if (slot->module == 0)
            return CDS_E_NOT_FOUND;
        if (slot->hash != hash)
            continue;
        const cds_module_record *r = cds_archive_module(a, slot->module - 1);
        if (!r)
            return CDS_E_CORRUPT;
        size_t size;
        const char *candidate = cds_archive_string(a, r->name, &size);
        if (size == name_size && memcmp(candidate, name, size) == 0) {
            *number = slot->module - 1;
            return CDS_OK;
        }
    }
    return CDS_E_NOT_FOUND;
}
