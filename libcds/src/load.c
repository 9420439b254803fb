/*
 * load.c - bringing an archive's object bytes into private memory on first
 * use.
 *
 * Relocation writes into nearly every page of a module's objects (each
 * object's type pointer moves with the runtime's address), so every page a
 * program uses becomes private memory either way.  With the file mapped
 * private, each page became private by a copy-on-write fault; here the
 * object window is anonymous memory advised MADV_HUGEPAGE, and the file is
 * read into it with pread, an extent of 2 MiB at a time, when a module in
 * that extent is first used: one fault per extent instead of one per page
 * (bench/load_strategies.c measures the alternatives; README "Loading").
 * What is never used is never read.
 *
 * The archive's descriptor is kept for these reads, at a high number, and
 * is checked before each read to still be the archive (a program may close
 * descriptors it does not own, or reuse their numbers); when it is not, the
 * extent is copied from the read-only mapping of the file instead.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Whether a->fd is still the file the archive was opened from. */
static bool fd_is_archive(const cds_archive *a)
{
    struct stat st;
    return a->fd >= 0 && fstat(a->fd, &st) == 0 && st.st_dev == a->dev &&
           st.st_ino == a->ino;
}

static cds_status read_extent(cds_archive *a, uint64_t extent)
{
    uint64_t at = extent * CDS_EXTENT_SIZE;
    uint64_t size =
        a->size - at < CDS_EXTENT_SIZE ? a->size - at : CDS_EXTENT_SIZE;
    if (fd_is_archive(a)) {
        uint64_t done = 0;
        while (done < size) {
            ssize_t got = pread(a->fd, a->base + at + done, size - done,
                                (off_t)(at + done));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return CDS_E_IO; /* truncated under us, or failing */
            done += (uint64_t)got;
        }
    } else {
        memcpy(a->base + at, a->pristine + at, size);
    }
    a->loaded[extent] = 1;
    return CDS_OK;
}

cds_status cds_load_range(cds_archive *a, uint64_t begin, uint64_t end)
{
    if (end <= begin)
        return CDS_OK;
    for (uint64_t e = begin / CDS_EXTENT_SIZE; e <= (end - 1) / CDS_EXTENT_SIZE;
         e++) {
        if (a->loaded[e])
            continue;
        cds_status status = read_extent(a, e);
        if (status != CDS_OK)
            return status;
    }
    return CDS_OK;
}

void cds_load_restore(cds_archive *a, uint64_t begin, uint64_t end)
{
    memcpy(a->base + begin, a->pristine + begin, (size_t)(end - begin));
}
