/*
 * writer.c - building an archive: the fixed-address object arena, module
 * records, relocations, and the finished file: its layout (the sections by
 * kind), its header, and its durable write (libos's os_durable_*).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "map.h"
#include "os/array.h"
#include "os/durable.h"
#include "os/syscalls.h"

/* Arena memory is made accessible in steps of this size as objects grow. */
#define COMMIT_STEP (UINT64_C(1) << 20)

struct cds_writer {
    uint64_t base;        /* preferred address of file offset 0 */
    unsigned char *arena; /* base + CDS_OBJECTS_OFFSET */
    uint64_t reserved;    /* address space held for the arena */
    uint64_t committed;   /* bytes of it readable and writable */
    uint64_t used;        /* bytes handed out */
    os_array modules;     /* cds_module_record */
    os_array relocs;      /* bytes: the encoded streams of finished modules */
    os_array pending;     /* pending_reloc of the module being built */
    os_array deps;        /* uint32_t */
    os_array strings;     /* bytes: names and paths */
    os_array user;        /* bytes: the user section */
    os_array names;       /* cds_index_slot: the name hash set */
    os_array dep_marks; /* uint32_t: module -> 1 + module that last added it */
    bool in_module;
    bool finished;
    cds_module_record current;
};

/*
 * A relocation of the module being built, before encoding: kind in bits
 * 0..3, argument in bits 4..23, slot offset / 8 above, so that sorting the
 * words sorts by slot.
 */
typedef uint64_t pending_reloc;

static inline pending_reloc pending_make(cds_reloc_kind kind, uint32_t arg,
                                         uint64_t offset)
{
    return (uint64_t)kind | ((uint64_t)arg << 4) | ((offset >> 3) << 24);
}

static inline cds_reloc_kind pending_kind(pending_reloc r)
{
    return (cds_reloc_kind)(r & 0xFu);
}

static inline uint32_t pending_arg(pending_reloc r)
{
    return (uint32_t)((r >> 4) & CDS_RELOC_ARG_MAX);
}

static inline uint64_t pending_offset(pending_reloc r)
{
    return (r >> 24) << 3;
}

static inline const char *strings_at(const cds_writer *w, uint32_t offset)
{
    return (const char *)w->strings.items + offset;
}

static inline uint32_t module_count(const cds_writer *w)
{
    return (uint32_t)w->modules.count;
}

/* ------------------------------------------------------------- the arena */

cds_status cds_writer_create(cds_writer **out, const cds_writer_options *opt,
                             cds_diag *diag)
{
    *out = NULL;
    uint64_t base =
        opt && opt->base_address ? opt->base_address : CDS_DEFAULT_BASE;
    uint64_t max = opt && opt->max_object_size ? opt->max_object_size
                                               : CDS_DEFAULT_MAX_OBJECTS;
    max = cds_align_up(max, CDS_PAGE_SIZE);
    if (base % CDS_PAGE_SIZE != 0 || max > CDS_RELOC_OFFSET_MAX)
        return cds_fail(diag, CDS_E_INVALID_ARGUMENT,
                        "base 0x%llx not page aligned or size too large",
                        (unsigned long long)base);

    cds_writer *w = calloc(1, sizeof *w);
    if (!w)
        return cds_fail(diag, CDS_E_NOMEM, "out of memory");
    w->base = base;
    w->reserved = max;
    w->modules = (os_array)OS_ARRAY_INIT(cds_module_record);
    w->relocs = (os_array)OS_ARRAY_INIT(unsigned char);
    w->pending = (os_array)OS_ARRAY_INIT(pending_reloc);
    w->deps = (os_array)OS_ARRAY_INIT(uint32_t);
    w->strings = (os_array)OS_ARRAY_INIT(char);
    w->user = (os_array)OS_ARRAY_INIT(unsigned char);
    w->names = (os_array)OS_ARRAY_INIT(cds_index_slot);
    w->dep_marks = (os_array)OS_ARRAY_INIT(uint32_t);
    /* Reserve address space only; pages are committed as the arena grows. */
    void *arena =
        cds_map_fixed(base + CDS_OBJECTS_OFFSET, max, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    if (arena == MAP_FAILED) {
        int err = errno;
        free(w);
        if (err == EEXIST)
            return cds_fail(diag, CDS_E_ADDRESS_IN_USE,
                            "address 0x%llx is already mapped in this process",
                            (unsigned long long)(base + CDS_OBJECTS_OFFSET));
        return cds_fail(diag, CDS_E_MAP, "reserve arena: %s", strerror(err));
    }
    w->arena = arena;
    *out = w;
    return CDS_OK;
}

void cds_writer_destroy(cds_writer *w)
{
    if (!w)
        return;
    os_sys.munmap(w->arena, w->reserved);
    os_array_free(&w->modules);
    os_array_free(&w->relocs);
    os_array_free(&w->pending);
    os_array_free(&w->deps);
    os_array_free(&w->strings);
    os_array_free(&w->user);
    os_array_free(&w->names);
    os_array_free(&w->dep_marks);
    free(w);
}

void *cds_writer_alloc(cds_writer *w, size_t size, size_t align)
{
    if (!w || w->finished || align == 0 || (align & (align - 1)) != 0 ||
        align > CDS_PAGE_SIZE)
        return NULL;
    uint64_t start = cds_align_up(w->used, align);
    if (start > w->reserved || size > w->reserved - start)
        return NULL;
    uint64_t end = start + size;
    if (end > w->committed) {
        uint64_t commit = cds_align_up(end, COMMIT_STEP);
        if (commit > w->reserved)
            commit = w->reserved;
        if (os_sys.mprotect(w->arena + w->committed, commit - w->committed,
                            PROT_READ | PROT_WRITE) != 0)
            return NULL;
        w->committed = commit;
    }
    /* Fresh pages are zero; padding and reused space are zeroed here. */
    memset(w->arena + w->used, 0, end - w->used);
    w->used = end;
    return w->arena + start;
}

uint64_t cds_writer_object_size(const cds_writer *w)
{
    return w->used;
}

int cds_writer_contains(const cds_writer *w, const void *ptr, size_t size)
{
    uintptr_t p = (uintptr_t)ptr, lo = (uintptr_t)w->arena;
    return p >= lo && cds_range_ok(p - lo, size, w->used);
}

/* File offset of an arena address. */
static inline uint64_t file_offset(const cds_writer *w, const void *ptr)
{
    return (uint64_t)((uintptr_t)ptr - (uintptr_t)w->arena) +
           CDS_OBJECTS_OFFSET;
}

uint64_t cds_writer_offset(const cds_writer *w, const void *ptr)
{
    return file_offset(w, ptr);
}

void *cds_writer_pointer(const cds_writer *w, uint64_t offset)
{
    if (offset < CDS_OBJECTS_OFFSET || offset - CDS_OBJECTS_OFFSET >= w->used)
        return NULL;
    return w->arena + (offset - CDS_OBJECTS_OFFSET);
}

/* ------------------------------------------------------------ name set */

/* The set of finished module names, reusing the index's slot layout. */
static int name_set_find(const cds_writer *w, uint64_t hash, const char *name,
                         size_t size)
{
    size_t slot_count = w->names.count;
    if (slot_count == 0)
        return 0;
    const cds_index_slot *slots = w->names.items;
    const cds_module_record *records = w->modules.items;
    for (size_t i = hash & (slot_count - 1);; i = (i + 1) & (slot_count - 1)) {
        if (slots[i].module == 0)
            return 0;
        const cds_module_record *r = &records[slots[i].module - 1];
        if (slots[i].hash == hash && r->name.size == size &&
            memcmp(strings_at(w, r->name.offset), name, size) == 0)
            return 1;
    }
}

static void index_insert(cds_index_slot *slots, uint32_t slot_count,
                         uint64_t hash, uint32_t module)
{
    uint32_t i = (uint32_t)hash & (slot_count - 1);
    while (slots[i].module != 0)
        i = (i + 1) & (slot_count - 1);
    slots[i].hash = hash;
    slots[i].module = module + 1;
}

/* Fill an index for all finished modules into slots (zeroed by caller). */
static void index_fill(const cds_writer *w, cds_index_slot *slots,
                       uint32_t slot_count)
{
    const cds_module_record *records = w->modules.items;
    for (uint32_t m = 0; m < module_count(w); m++) {
        const char *name = strings_at(w, records[m].name.offset);
        index_insert(slots, slot_count,
                     cds_index_hash(name, records[m].name.size), m);
    }
}

/* Add finished module m to the name set, growing it to stay half empty. */
static bool name_set_add(cds_writer *w, uint32_t m)
{
    uint32_t slot_count = cds_index_slot_count(module_count(w) + 1);
    if (w->names.count < slot_count) {
        w->names.count = 0;
        if (!os_array_append(&w->names, NULL, slot_count))
            return false;
        index_fill(w, w->names.items, slot_count);
        return true; /* index_fill included m */
    }
    const cds_module_record *r =
        &OS_ARRAY_AT(&w->modules, cds_module_record, m);
    const char *name = strings_at(w, r->name.offset);
    index_insert(w->names.items, (uint32_t)w->names.count,
                 cds_index_hash(name, r->name.size), m);
    return true;
}

/* ------------------------------------------------------------- modules */

static bool add_string(cds_writer *w, const void *data, size_t size,
                       cds_string_ref *ref)
{
    if (!data)
        size = 0;
    if (size > UINT32_MAX || w->strings.count > UINT32_MAX - size)
        return false;
    ref->offset = (uint32_t)w->strings.count;
    ref->size = (uint32_t)size;
    return size == 0 || os_array_append(&w->strings, data, size);
}

cds_status cds_writer_begin_module(cds_writer *w, const cds_module_info *info,
                                   uint32_t *number)
{
    if (!w || !info || !info->name || w->in_module || w->finished)
        return CDS_E_INVALID_ARGUMENT;
    size_t name_size = info->name_size ? info->name_size : strlen(info->name);
    if (name_size == 0)
        return CDS_E_INVALID_ARGUMENT;
    if (name_set_find(w, cds_index_hash(info->name, name_size), info->name,
                      name_size))
        return CDS_E_DUPLICATE;
    if (module_count(w) >= UINT32_MAX / 2 - 1)
        return CDS_E_FULL;

    cds_module_record *r = &w->current;
    memset(r, 0, sizeof *r);
    size_t strings_before = w->strings.count;
    if (!add_string(w, info->name, name_size, &r->name) ||
        !add_string(w, info->origin, info->origin ? strlen(info->origin) : 0,
                    &r->origin) ||
        !add_string(w, info->cached, info->cached ? strlen(info->cached) : 0,
                    &r->cached) ||
        !add_string(w, info->extra, info->extra_size, &r->extra)) {
        w->strings.count = strings_before;
        return CDS_E_NOMEM;
    }
    r->flags = info->flags;
    r->source_mtime_ns = info->source_mtime_ns;
    r->source_size = info->source_size;
    r->source_hash = info->source_hash;
    /* Relocation streams count 8-byte words from here. */
    w->used = cds_align_up(w->used, 8);
    r->objects_begin = CDS_OBJECTS_OFFSET + w->used;
    r->relocs_offset = w->relocs.count;
    w->pending.count = 0;
    r->deps_first = (uint32_t)w->deps.count;
    w->in_module = true;
    if (number)
        *number = module_count(w);
    return CDS_OK;
}

cds_status cds_writer_add_reloc(cds_writer *w, void *slot, cds_reloc_kind kind,
                                uint32_t arg)
{
    /* A module's streams count from its own objects: a slot of an earlier
     * module is not this module's to fix. */
    if (!w || !w->in_module || (uintptr_t)slot % 8 != 0 ||
        !cds_writer_contains(w, slot, 8) ||
        file_offset(w, slot) < w->current.objects_begin ||
        arg > CDS_RELOC_ARG_MAX || kind < CDS_RELOC_INTERNAL ||
        kind > CDS_RELOC_INTERN)
        return CDS_E_INVALID_ARGUMENT;
    if (kind == CDS_RELOC_INTERNAL || kind == CDS_RELOC_INTERN) {
        void *target;
        memcpy(&target, slot, sizeof target);
        if (!cds_writer_contains(w, target, 1))
            return CDS_E_INVALID_ARGUMENT;
    }
    if (w->pending.count >= UINT32_MAX)
        return CDS_E_FULL;
    pending_reloc r = pending_make(kind, arg, file_offset(w, slot));
    return os_array_append(&w->pending, &r, 1) ? CDS_OK : CDS_E_NOMEM;
}

cds_status cds_writer_add_dep(cds_writer *w, uint32_t number)
{
    if (!w || !w->in_module || number >= module_count(w))
        return CDS_E_INVALID_ARGUMENT;
    uint32_t current = module_count(w);
    if (w->dep_marks.count < current &&
        !os_array_append(&w->dep_marks, NULL,
                         current * 2 + 16 - w->dep_marks.count))
        return CDS_E_NOMEM;
    uint32_t *marks = w->dep_marks.items;
    /* Add `number` and, so that the list stays transitively closed, every
     * module it depends on (its own list is closed already). */
    const cds_module_record *dep =
        &OS_ARRAY_AT(&w->modules, cds_module_record, number);
    uint32_t first = dep->deps_first, count = dep->deps_count;
    for (uint32_t i = 0; i <= count; i++) {
        /* Indexed each time: appending may move the buffer. */
        uint32_t m =
            i < count ? OS_ARRAY_AT(&w->deps, uint32_t, first + i) : number;
        if (marks[m] == current + 1)
            continue; /* already listed for this module */
        if (!os_array_append(&w->deps, &m, 1))
            return CDS_E_NOMEM;
        marks[m] = current + 1;
    }
    return CDS_OK;
}

static cds_stream stream_of(cds_reloc_kind kind)
{
    switch (kind) {
    case CDS_RELOC_INTERNAL: return CDS_STREAM_INTERNAL;
    case CDS_RELOC_INTERN: return CDS_STREAM_INTERN;
    default: return CDS_STREAM_TYPED;
    }
}

/* By stream, then by slot (the packed word holds the offset highest). */
static int compare_pending(const void *a, const void *b)
{
    pending_reloc x = *(const pending_reloc *)a, y = *(const pending_reloc *)b;
    cds_stream sx = stream_of(pending_kind(x)), sy = stream_of(pending_kind(y));
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return x < y ? -1 : x > y;
}

/*
 * Encode the pending relocations of module r into w->relocs as format.h's
 * three streams; fills the record's stream sizes.
 */
static cds_status encode_streams(cds_writer *w, cds_module_record *r)
{
    size_t count = w->pending.count;
    pending_reloc *entries = w->pending.items;
    if (count)
        qsort(entries, count, sizeof *entries, compare_pending);
    uint64_t sizes[CDS_STREAM_COUNT] = {0};
    uint64_t previous = r->objects_begin - 8;
    cds_stream stream = CDS_STREAM_COUNT; /* none yet */
    for (size_t i = 0; i < count; i++) {
        cds_reloc_kind kind = pending_kind(entries[i]);
        uint64_t offset = pending_offset(entries[i]);
        if (stream_of(kind) != stream) {
            stream = stream_of(kind);
            previous = r->objects_begin - 8; /* gaps are >= 1 */
        }
        if (offset == previous)
            return CDS_E_INVALID_ARGUMENT; /* the same slot twice */
        unsigned char bytes[2 * CDS_VARINT_MAX];
        uint64_t gap = (offset - previous) / 8;
        unsigned n;
        if (stream == CDS_STREAM_TYPED) {
            n = cds_varint_put(bytes, gap << 1 | (kind == CDS_RELOC_SINGLETON));
            n += cds_varint_put(bytes + n, pending_arg(entries[i]));
        } else {
            n = cds_varint_put(bytes, gap);
        }
        if (!os_array_append(&w->relocs, bytes, n))
            return CDS_E_NOMEM;
        sizes[stream] += n;
        previous = offset;
    }
    for (int k = 0; k < CDS_STREAM_COUNT; k++)
        if (sizes[k] > UINT32_MAX)
            return CDS_E_FULL;
    r->typed_size = (uint32_t)sizes[CDS_STREAM_TYPED];
    r->internal_size = (uint32_t)sizes[CDS_STREAM_INTERNAL];
    r->intern_size = (uint32_t)sizes[CDS_STREAM_INTERN];
    r->reloc_count = (uint32_t)count;
    return CDS_OK;
}

cds_status cds_writer_end_module(cds_writer *w, const void *root)
{
    if (!w || !w->in_module || !cds_writer_contains(w, root, 8) ||
        (uintptr_t)root % 8 != 0)
        return CDS_E_INVALID_ARGUMENT;
    cds_module_record *r = &w->current;
    r->root = file_offset(w, root);
    r->objects_end = CDS_OBJECTS_OFFSET + w->used;
    cds_status status = encode_streams(w, r);
    if (status != CDS_OK) {
        w->relocs.count = r->relocs_offset;
        return status;
    }
    uint64_t begin = r->objects_begin - CDS_OBJECTS_OFFSET;
    r->checksum =
        cds_module_checksum(w->arena + begin, (size_t)(w->used - begin),
                            (unsigned char *)w->relocs.items + r->relocs_offset,
                            w->relocs.count - r->relocs_offset);
    r->deps_count = (uint32_t)w->deps.count - r->deps_first;
    if (!os_array_append(&w->modules, r, 1)) {
        w->relocs.count = r->relocs_offset;
        return CDS_E_NOMEM;
    }
    if (!name_set_add(w, module_count(w) - 1)) {
        w->modules.count--;
        w->relocs.count = r->relocs_offset;
        return CDS_E_NOMEM;
    }
    w->in_module = false;
    return CDS_OK;
}

cds_status cds_writer_cancel_module(cds_writer *w)
{
    if (!w || !w->in_module)
        return CDS_E_INVALID_ARGUMENT;
    cds_module_record *r = &w->current;
    uint64_t begin = r->objects_begin - CDS_OBJECTS_OFFSET;
    memset(w->arena + begin, 0, w->used - begin);
    w->used = begin;
    w->relocs.count = r->relocs_offset;
    w->pending.count = 0;
    w->deps.count = r->deps_first;
    w->strings.count = r->name.offset;
    /* Forget dependency marks of this attempt: they carry its number. */
    uint32_t *marks = w->dep_marks.items;
    for (size_t i = 0; i < w->dep_marks.count; i++)
        if (marks[i] == module_count(w) + 1)
            marks[i] = 0;
    w->in_module = false;
    return CDS_OK;
}

cds_status cds_writer_set_user(cds_writer *w, const void *data, size_t size)
{
    if (!w || w->finished || (size && !data))
        return CDS_E_INVALID_ARGUMENT;
    w->user.count = 0;
    return os_array_append(&w->user, data, size) ? CDS_OK : CDS_E_NOMEM;
}

/* ------------------------------------------------------------- writing */

/* What one section of the file will hold. */
typedef struct section_bytes {
    const void *data;
    uint64_t size;
} section_bytes;

/* The finished archive before it is written: its header, and each
 * section's bytes by kind (format.h's cds_section_kind). */
typedef struct archive_layout {
    cds_header header;
    section_bytes section[CDS_SECTION_KIND_COUNT + 1]; /* [0] unused */
    unsigned char *index;                              /* owned */
} archive_layout;

static section_bytes array_bytes(const os_array *a)
{
    return (section_bytes){a->items, (uint64_t)a->count * a->item_size};
}

/* Build the index of the finished modules and name every section's bytes. */
static cds_status layout_sections(const cds_writer *w, archive_layout *l,
                                  cds_diag *diag)
{
    uint32_t slot_count = cds_index_slot_count(module_count(w));
    size_t index_size =
        sizeof(cds_index_header) + (size_t)slot_count * sizeof(cds_index_slot);
    l->index = calloc(1, index_size);
    if (!l->index)
        return cds_fail(diag, CDS_E_NOMEM, "out of memory");
    ((cds_index_header *)l->index)->slot_count = slot_count;
    index_fill(w, (cds_index_slot *)(l->index + sizeof(cds_index_header)),
               slot_count);

    /* The object region's page padding is zero and is checksummed too. */
    l->section[CDS_SECTION_OBJECTS] =
        (section_bytes){w->arena, cds_align_up(w->used, CDS_PAGE_SIZE)};
    l->section[CDS_SECTION_INDEX] = (section_bytes){l->index, index_size};
    l->section[CDS_SECTION_MODULES] = array_bytes(&w->modules);
    l->section[CDS_SECTION_DEPS] = array_bytes(&w->deps);
    l->section[CDS_SECTION_RELOCS] = array_bytes(&w->relocs);
    l->section[CDS_SECTION_STRINGS] = array_bytes(&w->strings);
    l->section[CDS_SECTION_USER] = array_bytes(&w->user);
    return CDS_OK;
}

/* Fill the header: identity, then the section table (each section 8-byte
 * aligned after the previous, from the object region on), then the
 * header's own checksum. */
static void layout_header(const cds_writer *w, archive_layout *l,
                          const void *fingerprint, size_t fingerprint_size)
{
    cds_header *h = &l->header;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CDS_MAGIC, CDS_MAGIC_SIZE);
    h->format_version = CDS_FORMAT_VERSION;
    h->header_size = sizeof *h;
    h->base_address = w->base;
    h->fingerprint_size = (uint32_t)fingerprint_size;
    if (fingerprint_size)
        memcpy(h->fingerprint, fingerprint, fingerprint_size);
    h->section_count = CDS_SECTION_KIND_COUNT;
    h->module_count = module_count(w);
    uint64_t offset = CDS_OBJECTS_OFFSET;
    for (uint32_t kind = 1; kind <= CDS_SECTION_KIND_COUNT; kind++) {
        const section_bytes *bytes = &l->section[kind];
        cds_section_entry *s = &h->sections[kind - 1];
        offset = cds_align_up(offset, 8);
        s->kind = kind;
        s->offset = offset;
        s->size = bytes->size;
        s->checksum =
            bytes->size ? cds_hash(bytes->data, bytes->size) : cds_hash("", 0);
        offset += bytes->size;
    }
    h->file_size = offset;
    h->header_checksum = cds_header_checksum(h);
}

/* Write the header and the sections, zeros between them, durably. */
static cds_status write_archive(const archive_layout *l, const char *path,
                                cds_diag *diag)
{
    os_durable_file f;
    if (os_durable_begin(&f, path, 0644) == 0) {
        os_durable_write(&f, &l->header, sizeof l->header);
        uint64_t written = sizeof l->header;
        for (uint32_t kind = 1; kind <= CDS_SECTION_KIND_COUNT; kind++) {
            const cds_section_entry *s = &l->header.sections[kind - 1];
            os_durable_write_zeros(&f, s->offset - written);
            if (s->size)
                os_durable_write(&f, l->section[kind].data, s->size);
            written = s->offset + s->size;
        }
    }
    if (os_durable_commit(&f) != 0)
        return cds_fail(diag, CDS_E_IO, "%s", f.message);
    return CDS_OK;
}

cds_status cds_writer_finish(cds_writer *w, const char *path,
                             const void *fingerprint, size_t fingerprint_size,
                             cds_diag *diag)
{
    if (!w || !path || w->in_module || w->finished ||
        fingerprint_size > CDS_FINGERPRINT_MAX ||
        (fingerprint_size && !fingerprint))
        return cds_fail(diag, CDS_E_INVALID_ARGUMENT,
                        "writer not ready or fingerprint over %u bytes",
                        CDS_FINGERPRINT_MAX);
    archive_layout layout;
    memset(&layout, 0, sizeof layout);
    cds_status status = layout_sections(w, &layout, diag);
    if (status == CDS_OK) {
        layout_header(w, &layout, fingerprint, fingerprint_size);
        status = write_archive(&layout, path, diag);
    }
    free(layout.index);
    if (status == CDS_OK)
        w->finished = true;
    return status;
}
