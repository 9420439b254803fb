/*
 * load.c - bringing an archive's object bytes into private memory on first
 * use.
 *
 * Relocation writes into nearly every page of a module's objects (each
 * object's type pointer moves with the runtime's address), so every page a
 * program uses becomes private memory either way.  With the file mapped
 * private, each page became private by a copy-on-write fault; here the
 * object window is anonymous memory, and the file is read into it with
 * pread when a module is first used.  What is never used is never read.
 *
 * A program's first CDS_PAGED_LIMIT bytes are read page by page, only the
 * pages its modules lie on.  After that, an extent (2 MiB) that is touched
 * for the first time is advised MADV_HUGEPAGE and read whole (the last one
 * only up to the objects' end, in small pages): one fault and
 * one copy in the kernel instead of 512 of each, for a program that uses
 * much of the archive, while one that imports a little of a large archive
 * keeps the pages it does not use out of its memory (bench/load_strategies.c
 * measures the ways; README "Loading").  An extent read page by page stays
 * so.
 *
 * The archive's descriptor is kept for these reads, at a high number, and
 * is checked once per module read in to still be the archive (a program may
 * close descriptors it does not own, or reuse their numbers); when it is not,
 * the bytes are copied from the read-only mapping of the file instead.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Whether a->fd is still the file the archive was opened from. */
static bool fd_is_archive(const cds_archive *a)
{
    struct stat st;
    return a->fd >= 0 && os_sys.fstat(a->fd, &st) == 0 && st.st_dev == a->dev &&
           st.st_ino == a->ino;
}

/* How the bytes come in, decided at the first read of a load call: from
 * the descriptor when it is still the archive, else from the mapping. */
typedef enum source { UNDECIDED, FROM_FD, FROM_MAPPING } source;

/* The file's bytes [at, at + size) into the window at the same offset. */
static cds_status read_in(cds_archive *a, uint64_t at, uint64_t size,
                          source *from)
{
    if (*from == UNDECIDED)
        *from = fd_is_archive(a) ? FROM_FD : FROM_MAPPING;
    if (*from == FROM_MAPPING) {
        memcpy(a->base + at, a->pristine + at, size);
        return CDS_OK;
    }
    uint64_t done = 0;
    while (done < size) {
        ssize_t got = os_sys.pread(a->fd, a->base + at + done, size - done,
                                   (off_t)(at + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return CDS_E_IO; /* truncated under us, or failing */
        done += (uint64_t)got;
    }
    return CDS_OK;
}

/* Where the objects end in the file: the sections after them are read from
 * the read-only mapping, never into the window. */
static uint64_t objects_end(const cds_archive *a)
{
    return (uint64_t)(a->sections[CDS_SECTION_OBJECTS] - a->pristine) +
           a->section_sizes[CDS_SECTION_OBJECTS];
}

/* Extent e whole, in a huge page where the kernel has one; the extent
 * where the objects end only up to there, in small pages (a huge page is
 * resident whole). */
static cds_status read_extent(cds_archive *a, uint64_t e, source *from)
{
    uint64_t at = e * CDS_EXTENT_SIZE, end = objects_end(a);
    if (at >= end)
        return CDS_E_CORRUPT; /* no module lies there */
    uint64_t size = end - at < CDS_EXTENT_SIZE ? end - at : CDS_EXTENT_SIZE;
    if (size == CDS_EXTENT_SIZE)
        os_sys.madvise(a->base + at, size, MADV_HUGEPAGE); /* advice only */
    cds_status status = read_in(a, at, size, from);
    if (status == CDS_OK)
        a->loaded[e] = CDS_EXTENT_WHOLE;
    return status;
}

/* The pages of [begin, end) that are not read yet, in runs. */
static cds_status read_pages(cds_archive *a, uint64_t begin, uint64_t end,
                             source *from)
{
    uint64_t page = begin / CDS_PAGE_SIZE, last = (end - 1) / CDS_PAGE_SIZE;
    while (page <= last) {
        if (a->pages[page]) {
            page++;
            continue;
        }
        uint64_t run = page;
        while (run <= last && !a->pages[run])
            run++;
        uint64_t at = page * CDS_PAGE_SIZE;
        uint64_t size = (run - page) * CDS_PAGE_SIZE;
        if (at + size > a->size)
            size = a->size - at;
        cds_status status = read_in(a, at, size, from);
        if (status != CDS_OK)
            return status;
        memset(a->pages + page, 1, (size_t)(run - page));
        a->paged_bytes += size;
        page = run;
    }
    return CDS_OK;
}

cds_status cds_load_range(cds_archive *a, uint64_t begin, uint64_t end)
{
    if (end <= begin)
        return CDS_OK;
    source from = UNDECIDED;
    for (uint64_t e = begin / CDS_EXTENT_SIZE; e <= (end - 1) / CDS_EXTENT_SIZE;
         e++) {
        if (a->loaded[e] == CDS_EXTENT_WHOLE)
            continue;
        cds_status status;
        if (a->loaded[e] == CDS_EXTENT_NONE &&
            a->paged_bytes >= CDS_PAGED_LIMIT) {
            status = read_extent(a, e, &from);
        } else {
            uint64_t lo = e * CDS_EXTENT_SIZE, hi = lo + CDS_EXTENT_SIZE;
            status = read_pages(a, begin > lo ? begin : lo, end < hi ? end : hi,
                                &from);
            a->loaded[e] = CDS_EXTENT_PAGES;
        }
        if (status != CDS_OK)
            return status;
    }
    return CDS_OK;
}

void cds_load_restore(cds_archive *a, uint64_t begin, uint64_t end)
{
    memcpy(a->base + begin, a->pristine + begin, (size_t)(end - begin));
}

cds_status cds_archive_give_back(cds_archive *a, const void *ptr, size_t size,
                                 uint64_t *given)
{
    *given = 0;
    uint32_t number;
    if (!cds_module_holding(a, ptr, size, &number))
        return CDS_E_CORRUPT;
    uint64_t at = (uint64_t)((const unsigned char *)ptr - a->base);
    uint64_t first = cds_align_up(at, CDS_PAGE_SIZE);
    uint64_t last = (at + size) & ~(uint64_t)(CDS_PAGE_SIZE - 1);
    if (last <= first)
        return CDS_OK;
    /* khugepaged would fill the holes of an extent read as a huge page: the
     * whole extent is advised out of huge pages (advising only the range
     * would split the mapping in three at each range, and each piece costs
     * every fork). */
    for (uint64_t e = first / CDS_EXTENT_SIZE;
         e <= (last - 1) / CDS_EXTENT_SIZE; e++) {
        if (a->loaded[e] != CDS_EXTENT_WHOLE)
            continue;
        uint64_t extent = e * CDS_EXTENT_SIZE;
        uint64_t bytes = a->size - extent < CDS_EXTENT_SIZE ? a->size - extent
                                                            : CDS_EXTENT_SIZE;
        os_sys.madvise(a->base + extent, bytes, MADV_NOHUGEPAGE); /* advice */
    }
    if (os_sys.madvise(a->base + first, last - first, MADV_DONTNEED) != 0)
        return CDS_E_IO;
    *given = last - first;
    return CDS_OK;
}
