/*
 * header.c - reading and checking the header page and its section table.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Highest user address on x86-64 with 4-level page tables. */
#define CDS_USER_ADDRESS_LIMIT (UINT64_C(1) << 47)

uint64_t cds_header_checksum(const cds_header *header)
{
    cds_header copy;
    memcpy(&copy, header, sizeof copy);
    copy.header_checksum = 0;
    return cds_hash(&copy, sizeof copy);
}

const char *cds_section_name(uint32_t kind)
{
    switch (kind) {
    case CDS_SECTION_OBJECTS: return "objects";
    case CDS_SECTION_INDEX: return "index";
    case CDS_SECTION_MODULES: return "modules";
    case CDS_SECTION_DEPS: return "deps";
    case CDS_SECTION_RELOCS: return "relocs";
    case CDS_SECTION_STRINGS: return "strings";
    case CDS_SECTION_USER: return "user";
    default: return "unknown";
    }
}

const cds_section_entry *cds_header_section(const cds_header *header,
                                            cds_section_kind kind)
{
    uint32_t count = header->section_count;
    if (count > CDS_SECTION_MAX)
        count = CDS_SECTION_MAX;
    for (uint32_t i = 0; i < count; i++)
        if (header->sections[i].kind == (uint32_t)kind)
            return &header->sections[i];
    return NULL;
}

/*
 * The writer lays out one section of each kind, in kind order, objects first
 * at CDS_OBJECTS_OFFSET, each following section 8-byte aligned and after the
 * previous one, all inside the file.  Anything else is refused: there is no
 * reason for a valid archive to differ, and a strict shape is easy to check.
 */
static cds_status check_layout(const cds_header *h, cds_diag *diag)
{
    if (h->base_address == 0 || h->base_address % CDS_PAGE_SIZE != 0 ||
        !cds_range_ok(h->base_address, h->file_size, CDS_USER_ADDRESS_LIMIT))
        return cds_fail(diag, CDS_E_LAYOUT,
                        "base address 0x%llx unusable for %llu bytes",
                        (unsigned long long)h->base_address,
                        (unsigned long long)h->file_size);
    if (h->fingerprint_size > CDS_FINGERPRINT_MAX)
        return cds_fail(diag, CDS_E_LAYOUT, "fingerprint size %u over %u",
                        h->fingerprint_size, CDS_FINGERPRINT_MAX);
    if (h->section_count != CDS_SECTION_KIND_COUNT)
        return cds_fail(diag, CDS_E_LAYOUT, "%u sections, expected %u",
                        h->section_count, CDS_SECTION_KIND_COUNT);

    uint64_t end = CDS_OBJECTS_OFFSET;
    for (uint32_t i = 0; i < h->section_count; i++) {
        const cds_section_entry *s = &h->sections[i];
        const char *name = cds_section_name(i + 1);
        if (s->kind != i + 1)
            return cds_fail(diag, CDS_E_LAYOUT,
                            "section %u has kind %u, expected %s", i, s->kind,
                            name);
        uint64_t align = s->kind == CDS_SECTION_OBJECTS ? CDS_PAGE_SIZE : 8;
        if (s->offset % align != 0 || s->offset < end ||
            (s->kind == CDS_SECTION_OBJECTS && s->offset != end) ||
            (s->kind == CDS_SECTION_OBJECTS && s->size % CDS_PAGE_SIZE != 0))
            return cds_fail(diag, CDS_E_LAYOUT,
                            "%s section misplaced at offset %llu", name,
                            (unsigned long long)s->offset);
        if (!cds_range_ok(s->offset, s->size, h->file_size))
            return cds_fail(diag, CDS_E_LAYOUT,
                            "%s section [%llu, +%llu) beyond end of file %llu",
                            name, (unsigned long long)s->offset,
                            (unsigned long long)s->size,
                            (unsigned long long)h->file_size);
        end = s->offset + s->size;
    }
    return CDS_OK;
}

static cds_status read_fully(int fd, void *buffer, size_t size, off_t offset,
                             cds_diag *diag)
{
    unsigned char *p = buffer;
    while (size > 0) {
        ssize_t n = os_sys.pread(fd, p, size, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cds_fail(diag, CDS_E_IO, "read: %s", strerror(errno));
        if (n == 0)
            return cds_fail(diag, CDS_E_TOO_SMALL, "file shrank while read");
        p += n;
        size -= (size_t)n;
        offset += n;
    }
    return CDS_OK;
}

cds_status cds_header_read(int fd, cds_header *out, cds_diag *diag)
{
    struct stat st;
    if (os_sys.fstat(fd, &st) != 0)
        return cds_fail(diag, CDS_E_IO, "fstat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cds_fail(diag, CDS_E_NOT_REGULAR, "not a regular file");
    if ((uint64_t)st.st_size < sizeof(cds_header))
        return cds_fail(diag, CDS_E_TOO_SMALL,
                        "file too small: %lld bytes, a header needs %zu",
                        (long long)st.st_size, sizeof(cds_header));

    cds_header h;
    cds_status status = read_fully(fd, &h, sizeof h, 0, diag);
    if (status != CDS_OK)
        return status;
    memcpy(out, &h, sizeof h);

    if (memcmp(h.magic, CDS_MAGIC, CDS_MAGIC_SIZE) != 0)
        return cds_fail(diag, CDS_E_MAGIC, "bad magic: not a pycds archive");
    if (h.format_version != CDS_FORMAT_VERSION)
        return cds_fail(diag, CDS_E_FORMAT_VERSION,
                        "format version %u, this reader supports %u",
                        h.format_version, CDS_FORMAT_VERSION);
    if (h.header_size != sizeof(cds_header))
        return cds_fail(diag, CDS_E_FORMAT_VERSION,
                        "header size %u, expected %zu", h.header_size,
                        sizeof(cds_header));
    uint64_t expected = cds_header_checksum(&h);
    if (h.header_checksum != expected)
        return cds_fail(diag, CDS_E_HEADER_CHECKSUM,
                        "header checksum %016llx, computed %016llx",
                        (unsigned long long)h.header_checksum,
                        (unsigned long long)expected);
    if (h.file_size != (uint64_t)st.st_size)
        return cds_fail(
            diag, CDS_E_SIZE, "file is %lld bytes, header says %llu (%s)",
            (long long)st.st_size, (unsigned long long)h.file_size,
            (uint64_t)st.st_size < h.file_size ? "truncated" : "extended");
    return check_layout(&h, diag);
}
