/*
 * reader.c - opening an archive: validate, map, and check the metadata.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "map.h"

/*
 * Map the file private, first read-only, then make it writable.
 *
 * The interpreter writes into archived objects (3.11 refcounts, specialised
 * bytecode), so the mapping must be writable and private.  But MAP_POPULATE
 * on a writable private mapping pre-faults every page *for writing*, which
 * copies the whole file into private anonymous memory: nothing stays shared
 * between processes.  Populating a read-only mapping instead maps the page
 * cache pages themselves; mprotect then allows writes, and only the pages
 * actually written are copied.
 */
static cds_status map_archive(cds_archive *a, int fd, unsigned flags,
                              cds_diag *diag)
{
    size_t size = (size_t)a->header.file_size;
    int map_flags =
        MAP_PRIVATE | (flags & CDS_OPEN_NO_POPULATE ? 0 : MAP_POPULATE);
    void *p =
        cds_map_fixed(a->header.base_address, size, PROT_READ, map_flags, fd);
    if (p == MAP_FAILED && errno == EEXIST)
        p = mmap(NULL, size, PROT_READ, map_flags, fd, 0);
    if (p == MAP_FAILED)
        return cds_fail(diag, CDS_E_MAP, "mmap %zu bytes: %s", size,
                        strerror(errno));
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) {
        int err = errno;
        munmap(p, size);
        return cds_fail(diag, CDS_E_MAP, "mprotect: %s", strerror(err));
    }
    a->base = p;
    a->size = size;
    a->delta = (int64_t)((uintptr_t)p - (uintptr_t)a->header.base_address);
    return CDS_OK;
}

/* Sizes and shapes of the metadata, once their checksums are known good. */
static cds_status check_metadata(cds_archive *a, cds_diag *diag)
{
    uint64_t index_size = a->section_sizes[CDS_SECTION_INDEX];
    if (index_size < sizeof(cds_index_header))
        return cds_fail(diag, CDS_E_CORRUPT, "index section too small");
    const cds_index_header *index =
        (const cds_index_header *)a->sections[CDS_SECTION_INDEX];
    uint32_t slots = index->slot_count;
    if (slots == 0 || (slots & (slots - 1)) != 0 ||
        slots <= a->header.module_count ||
        index_size != sizeof *index + (uint64_t)slots * sizeof(cds_index_slot))
        return cds_fail(diag, CDS_E_CORRUPT,
                        "index of %u slots does not fit %u modules", slots,
                        a->header.module_count);
    if (a->section_sizes[CDS_SECTION_MODULES] !=
        (uint64_t)a->header.module_count * sizeof(cds_module_record))
        return cds_fail(diag, CDS_E_CORRUPT,
                        "modules section does not hold %u records",
                        a->header.module_count);
    if (a->section_sizes[CDS_SECTION_DEPS] % sizeof(uint32_t) != 0)
        return cds_fail(diag, CDS_E_CORRUPT,
                        "dependency table has a partial entry");
    return CDS_OK;
}

static cds_status verify_section(const cds_archive *a, cds_section_kind kind,
                                 cds_status failure, cds_diag *diag)
{
    const cds_section_entry *s = cds_header_section(&a->header, kind);
    uint64_t actual = cds_hash(a->base + s->offset, (size_t)s->size);
    if (actual != s->checksum)
        return cds_fail(diag, failure,
                        "%s section checksum %016llx, computed %016llx",
                        cds_section_name(kind), (unsigned long long)s->checksum,
                        (unsigned long long)actual);
    return CDS_OK;
}

cds_status cds_archive_verify_objects(const cds_archive *a, cds_diag *diag)
{
    return verify_section(a, CDS_SECTION_OBJECTS, CDS_E_OBJECTS_CHECKSUM, diag);
}

cds_status cds_archive_open(cds_archive **out, const char *path,
                            const void *fingerprint, size_t fingerprint_size,
                            unsigned flags, cds_diag *diag)
{
    if (!out || !path || (!fingerprint && fingerprint_size))
        return cds_fail(diag, CDS_E_INVALID_ARGUMENT, "invalid argument");
    *out = NULL;
    cds_archive *a = calloc(1, sizeof *a);
    if (!a)
        return cds_fail(diag, CDS_E_NOMEM, "out of memory");

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(a);
        return cds_fail(diag, CDS_E_IO, "open: %s", strerror(errno));
    }
    cds_status status = cds_header_read(fd, &a->header, diag);
    if (status == CDS_OK && !(flags & CDS_OPEN_ANY_FINGERPRINT) &&
        (a->header.fingerprint_size != fingerprint_size ||
         (fingerprint_size &&
          memcmp(a->header.fingerprint, fingerprint, fingerprint_size) != 0)))
        status = cds_fail(diag, CDS_E_FINGERPRINT,
                          "archive was made by another runtime build");
    if (status == CDS_OK)
        status = map_archive(a, fd, flags, diag);
    close(fd); /* the mapping keeps the file */
    if (status != CDS_OK) {
        free(a);
        return status;
    }

    for (uint32_t kind = 1; kind <= CDS_SECTION_KIND_COUNT; kind++) {
        const cds_section_entry *s = cds_header_section(&a->header, kind);
        a->sections[kind] = a->base + s->offset;
        a->section_sizes[kind] = s->size;
    }
    /* The relocation table and the objects are checked module by module
     * when used (cds_archive_prepare_module), unless asked for now. */
    int bulk = (flags & CDS_OPEN_VERIFY_ALL) != 0;
    for (uint32_t kind = CDS_SECTION_INDEX;
         status == CDS_OK && kind <= CDS_SECTION_KIND_COUNT; kind++)
        if (kind != CDS_SECTION_RELOCS || bulk)
            status = verify_section(a, kind, CDS_E_SECTION_CHECKSUM, diag);
    if (status == CDS_OK && bulk)
        status = cds_archive_verify_objects(a, diag);
    /* Checked in bulk, or trusted: either way not module by module. */
    a->bulk_verified = bulk || (flags & CDS_OPEN_TRUST_MODULES);
    if (status == CDS_OK)
        status = check_metadata(a, diag);
    if (status == CDS_OK) {
        a->ready = calloc(a->header.module_count + 1, 1);
        if (!a->ready)
            status = cds_fail(diag, CDS_E_NOMEM, "out of memory");
    }
    if (status != CDS_OK) {
        cds_archive_close(a);
        return status;
    }
    *out = a;
    return CDS_OK;
}

void cds_archive_close(cds_archive *a)
{
    if (!a)
        return;
    if (a->base)
        munmap(a->base, a->size);
    free(a->ready);
    free(a);
}

const cds_header *cds_archive_header(const cds_archive *a)
{
    return &a->header;
}

void *cds_archive_base(const cds_archive *a)
{
    return a->base;
}

int64_t cds_archive_delta(const cds_archive *a)
{
    return a->delta;
}

uint32_t cds_archive_module_count(const cds_archive *a)
{
    return a->header.module_count;
}

const void *cds_archive_user(const cds_archive *a, size_t *size)
{
    *size = (size_t)a->section_sizes[CDS_SECTION_USER];
    return a->sections[CDS_SECTION_USER];
}

void *cds_archive_at(const cds_archive *a, uint64_t offset)
{
    if (offset >= a->size)
        return NULL;
    return a->base + offset;
}
