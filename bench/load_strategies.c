/*
 * load_strategies.c - how an archive's pages should become private memory.
 *
 * Relocation writes into nearly every page of a module's objects (each
 * object's type pointer), so every page a program uses becomes private.
 * This compares ways of getting there, over a real archive and the modules
 * a real program uses, each in a fresh process (fresh page tables), the page
 * cache warm:
 *
 *   cow        the file mapped private; the writes take copy-on-write faults
 *   populate   the same mapping; MADV_POPULATE_WRITE over each module's pages
 *              first (one system call, no faults)
 *   pread      anonymous memory at the archive's address; each module's pages
 *              read in with pread when first used
 *   pread-thp  the same, advised MADV_HUGEPAGE, read in 2 MiB extents
 *   copy-thp   the same extents, copied from a read-only mapping of the file
 *   copy-thp-read  the same, the read-only pages populated first
 *              (MADV_POPULATE_READ: one system call instead of their faults)
 *   pages-then-thp  pread page by page for the first MiB read, then
 *              pread-thp for extents not touched yet (what libcds does)
 *
 *   load_strategies ARCHIVE [MODULE ...]
 *
 * With no MODULE, every module of the archive is used.  Prints, per
 * strategy, the median of 15 runs of the time to make the modules' pages
 * private and write a word in each, and the minor faults of one run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cds/cds.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096u
#define EXTENT (2u << 20)
#define RUNS 15

typedef struct range {
    uint64_t begin, end; /* file offsets of a module's objects */
} range;

enum strategy {
    COW,
    POPULATE,
    PREAD,
    PREAD_THP,
    COPY_THP,
    COPY_THP_READ,
    PAGES_THEN_THP,
    STRATEGY_COUNT
};
static const char *names[] = {"cow",           "populate", "pread",
                              "pread-thp",     "copy-thp", "copy-thp-read",
                              "pages-then-thp"};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* Write into every page of [begin, end) at base, as relocation does. */
static void write_pages(unsigned char *base, const range *r)
{
    for (uint64_t at = r->begin & ~(uint64_t)(PAGE - 1); at < r->end;
         at += PAGE) {
        volatile unsigned char *byte = base + (at > r->begin ? at : r->begin);
        *byte = (unsigned char)(*byte + 1);
    }
}

/* One run of strategy s: microseconds spent (in this process). */
static double run(enum strategy s, const char *path, uint64_t base_address,
                  uint64_t size, const range *ranges, size_t count)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open");
    double start = now_us();
    unsigned char *base;
    int anonymous = s != COW && s != POPULATE;
    if (anonymous)
        base = mmap((void *)base_address, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    else
        base = mmap((void *)base_address, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
    if (base == MAP_FAILED)
        die("mmap");
    unsigned char *pristine = NULL;
    if (s == COPY_THP || s == COPY_THP_READ) {
        pristine = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (pristine == MAP_FAILED)
            die("mmap pristine");
    }
    if (s >= PREAD_THP && s != PAGES_THEN_THP)
        madvise(base, size, MADV_HUGEPAGE);
    unsigned char *extents = calloc(size / EXTENT + 1, 1);
    uint64_t paged = 0;
    /* Which pages (pread) or extents (thp) are in. */
    size_t units = (size + PAGE - 1) / PAGE;
    unsigned char *loaded = calloc(units, 1);
    for (size_t i = 0; i < count; i++) {
        const range *r = &ranges[i];
        uint64_t first = r->begin & ~(uint64_t)(PAGE - 1);
        uint64_t last = (r->end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        if (s == POPULATE &&
            madvise(base + first, last - first, MADV_POPULATE_WRITE) != 0)
            die("madvise");
        int by_pages = s == PREAD;
        if (s == PAGES_THEN_THP) {
            /* Whole extents once a MiB was read by pages, where untouched. */
            for (uint64_t e = first / EXTENT; e * EXTENT < last; e++) {
                if (extents[e] || paged < (1u << 20))
                    continue;
                extents[e] = 2;
                uint64_t at = e * EXTENT, n = EXTENT;
                if (at + n > size)
                    n = size - at;
                madvise(base + at, n, MADV_HUGEPAGE);
                if (pread(fd, base + at, n, (off_t)at) != (ssize_t)n)
                    die("pread");
                memset(loaded + at / PAGE, 1, (n + PAGE - 1) / PAGE);
            }
            by_pages = 1;
        }
        if (by_pages) {
            /* Runs of pages not read yet. */
            for (uint64_t at = first; at < last;) {
                if (loaded[at / PAGE]) {
                    at += PAGE;
                    continue;
                }
                uint64_t end = at;
                while (end < last && !loaded[end / PAGE]) {
                    loaded[end / PAGE] = 1;
                    end += PAGE;
                }
                if (pread(fd, base + at, end - at, (off_t)at) !=
                    (ssize_t)(end - at))
                    die("pread");
                paged += end - at;
                for (uint64_t e = at / EXTENT; e <= (end - 1) / EXTENT; e++)
                    if (!extents[e])
                        extents[e] = 1;
                at = end;
            }
        }
        if (s >= PREAD_THP && s != PAGES_THEN_THP) {
            for (uint64_t e = first / EXTENT; e * EXTENT < last; e++) {
                if (loaded[e])
                    continue;
                loaded[e] = 1;
                uint64_t at = e * EXTENT, n = EXTENT;
                if (at + n > size)
                    n = size - at;
                if (s == PREAD_THP &&
                    pread(fd, base + at, n, (off_t)at) != (ssize_t)n)
                    die("pread");
                if (s == COPY_THP_READ &&
                    madvise(pristine + at, n, MADV_POPULATE_READ) != 0)
                    die("madvise");
                if (s == COPY_THP || s == COPY_THP_READ)
                    memcpy(base + at, pristine + at, n);
            }
        }
        write_pages(base, r);
    }
    double elapsed = now_us() - start;
    free(loaded);
    free(extents);
    munmap(base, size);
    if (pristine)
        munmap(pristine, size);
    close(fd);
    return elapsed;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: load_strategies ARCHIVE [MODULE ...]\n");
        return 2;
    }
    cds_archive *a;
    cds_diag diag;
    if (cds_archive_open(&a, argv[1], NULL, 0,
                         CDS_OPEN_ANY_FINGERPRINT | CDS_OPEN_NO_POPULATE,
                         &diag) != CDS_OK) {
        fprintf(stderr, "load_strategies: %s\n", diag.message);
        return 1;
    }
    uint32_t modules = cds_archive_module_count(a);
    range *ranges = calloc(modules, sizeof *ranges);
    size_t count = 0;
    uint64_t bytes = 0;
    for (uint32_t m = 0; m < modules; m++) {
        const cds_module_record *r = cds_archive_module(a, m);
        size_t size;
        const char *name = cds_archive_string(a, r->name, &size);
        int wanted = argc == 2;
        for (int i = 2; i < argc && !wanted; i++)
            wanted = strlen(argv[i]) == size && !memcmp(argv[i], name, size);
        if (wanted) {
            ranges[count++] = (range){r->objects_begin, r->objects_end};
            bytes += r->objects_end - r->objects_begin;
        }
    }
    uint64_t base = cds_archive_header(a)->base_address;
    uint64_t size = cds_archive_header(a)->file_size;
    cds_archive_close(a);
    printf("%zu modules, %.1f MB of objects, archive %.1f MB\n", count,
           bytes / 1e6, size / 1e6);
    for (int s = 0; s < STRATEGY_COUNT; s++) {
        double times[RUNS];
        long faults = 0;
        for (int i = 0; i < RUNS; i++) {
            int pipe_fds[2];
            if (pipe(pipe_fds) != 0)
                die("pipe");
            pid_t pid = fork();
            if (pid == 0) {
                struct rusage before, after;
                getrusage(RUSAGE_SELF, &before);
                double t =
                    run((enum strategy)s, argv[1], base, size, ranges, count);
                getrusage(RUSAGE_SELF, &after);
                double out[2] = {t,
                                 (double)(after.ru_minflt - before.ru_minflt)};
                if (write(pipe_fds[1], out, sizeof out) != sizeof out)
                    _exit(1);
                _exit(0);
            }
            close(pipe_fds[1]);
            double got[2] = {0, 0};
            if (read(pipe_fds[0], got, sizeof got) != sizeof got)
                die("child");
            close(pipe_fds[0]);
            waitpid(pid, NULL, 0);
            times[i] = got[0];
            faults = (long)got[1];
        }
        qsort(times, RUNS, sizeof *times, compare);
        printf("%-10s %8.0f us  %6ld minor faults\n", names[s], times[RUNS / 2],
               faults);
    }
    return 0;
}
