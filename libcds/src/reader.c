/*
 * reader.c - opening an archive: validate, map, and check the metadata.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "map.h"

/*
 * Map the archive: the file itself read-only and shared (metadata is read
 * from there, and nothing there is ever written, so its pages stay those of
 * the page cache), and the object window, anonymous memory of the file's
 * size at the preferred address, filled from the file when used (load.c).
 *
 * The interpreter writes into archived objects (3.11 refcounts, specialised
 * bytecode) and relocation writes into every object, so the window must be
 * writable and private; being anonymous, it costs nothing where it is never
 * filled, and huge pages make filling it cheap.
 */
static cds_status map_archive(cds_archive *a, int fd, cds_diag *diag)
{
    size_t size = (size_t)a->header.file_size;
    void *pristine = os_sys.mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (pristine == MAP_FAILED)
        return cds_fail(diag, CDS_E_MAP, "mmap %zu bytes: %s", size,
                        strerror(errno));
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p = cds_map_fixed(a->header.base_address, size,
                            PROT_READ | PROT_WRITE, flags, -1);
    if (p == MAP_FAILED && errno == EEXIST)
        p = os_sys.mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        os_sys.munmap(pristine, size);
        return cds_fail(diag, CDS_E_MAP, "mmap %zu bytes: %s", size,
                        strerror(err));
    }
    a->pristine = pristine;
    a->base = p;
    a->size = size;
    a->delta = (int64_t)((uintptr_t)p - (uintptr_t)a->header.base_address);
    return CDS_OK;
}

/* Keep the descriptor for reading extents in, at a high number, out of the
 * way of the numbers programs expect to get. */
static int keep_fd(int fd)
{
    struct rlimit limit;
    int low = 3;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur > 256 &&
        limit.rlim_cur != RLIM_INFINITY)
        low = (int)(limit.rlim_cur - 128);
    int kept = fcntl(fd, F_DUPFD_CLOEXEC, low);
    if (kept < 0)
        kept = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    return kept;
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
    uint64_t actual = cds_hash(a->pristine + s->offset, (size_t)s->size);
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
    a->intern_slots = (os_array)OS_ARRAY_INIT(void **);

    /* O_NONBLOCK: a FIFO (or a device) named as the archive must not block
     * the process at start-up (cds_header_read refuses it).  Reading a
     * regular file ignores the flag. */
    int fd = os_sys.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
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
    a->fd = -1;
    struct stat st;
    if (status == CDS_OK && os_sys.fstat(fd, &st) != 0)
        status = cds_fail(diag, CDS_E_IO, "fstat: %s", strerror(errno));
    if (status == CDS_OK)
        status = map_archive(a, fd, diag);
    if (status == CDS_OK) {
        a->dev = st.st_dev;
        a->ino = st.st_ino;
        a->fd = keep_fd(fd); /* without it, extents come from the mapping */
    }
    os_sys.close(fd);
    if (status != CDS_OK) {
        free(a);
        return status;
    }

    for (uint32_t kind = 1; kind <= CDS_SECTION_KIND_COUNT; kind++) {
        const cds_section_entry *s = cds_header_section(&a->header, kind);
        a->sections[kind] = a->pristine + s->offset;
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
    a->checksummed = bulk || !(flags & CDS_OPEN_TRUST_MODULES);
    if (status == CDS_OK)
        status = check_metadata(a, diag);
    if (status == CDS_OK) {
        a->ready = calloc(a->header.module_count + 1, 1);
        a->loaded = calloc(a->size / CDS_EXTENT_SIZE + 1, 1);
        a->pages = calloc(a->size / CDS_PAGE_SIZE + 1, 1);
        if (!a->ready || !a->loaded || !a->pages)
            status = cds_fail(diag, CDS_E_NOMEM, "out of memory");
    }
    /* Without CDS_OPEN_NO_POPULATE, every object is read in now. */
    if (status == CDS_OK && !(flags & CDS_OPEN_NO_POPULATE) &&
        cds_load_range(a, CDS_OBJECTS_OFFSET,
                       CDS_OBJECTS_OFFSET +
                           a->section_sizes[CDS_SECTION_OBJECTS]) != CDS_OK)
        status = cds_fail(diag, CDS_E_IO, "cannot read the objects in");
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
        os_sys.munmap(a->base, a->size);
    if (a->pristine)
        os_sys.munmap((void *)a->pristine, a->size);
    if (a->fd >= 0)
        os_sys.close(a->fd);
    free(a->loaded);
    free(a->pages);
    os_array_free(&a->intern_slots);
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
