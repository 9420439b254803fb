/*
 * pages.c - learning the pages a program's process writes, and writing
 * them ahead in pool children (see pages.h).
 */
#define _GNU_SOURCE
#include "pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os/durable.h"
#include "os/syscalls.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HEADER "pycds pages 1\n"
#define PRESENT (UINT64_C(1) << 63)
#define EXCLUSIVE (UINT64_C(1) << 56)
/* At most this many pages (16 MiB) are listed: a program's own large
 * heap is not worth copying into every pool child. */
#define MAX_PAGES 4096

/* Append one "START COUNT" line; false when out of memory. */
static bool put_run(os_array *out, uintptr_t start, size_t count)
{
    char line[64];
    int n =
        snprintf(line, sizeof line, "%lx %zu\n", (unsigned long)start, count);
    return os_array_append(out, line, (size_t)n) != NULL;
}

/* Append the runs of present, exclusive pages in [start, end). */
static size_t scan(int pagemap, os_array *out, uintptr_t start, uintptr_t end,
                   size_t budget)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), listed = 0;
    uint64_t entries[512];
    uintptr_t run_start = 0;
    size_t run = 0;
    for (uintptr_t at = start; at < end && listed < budget;) {
        size_t n = (end - at) / page;
        if (n > 512)
            n = 512;
        ssize_t got =
            os_sys.pread(pagemap, entries, n * 8, (off_t)(at / page * 8));
        if (got <= 0)
            break;
        n = (size_t)got / 8;
        for (size_t i = 0; i < n; i++, at += page) {
            int own =
                (entries[i] & (PRESENT | EXCLUSIVE)) == (PRESENT | EXCLUSIVE);
            if (own && run && run_start + run * page == at) {
                run++;
            } else {
                if (run)
                    put_run(out, run_start, run);
                run = own ? 1 : 0;
                run_start = at;
            }
            listed += own;
        }
    }
    if (run)
        put_run(out, run_start, run);
    return listed;
}

int pycds_pages_list(os_array *text)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    int pagemap = os_sys.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
    if (!maps || pagemap < 0) {
        int saved = errno;
        if (maps)
            fclose(maps);
        if (pagemap >= 0)
            os_sys.close(pagemap);
        errno = saved;
        return -1;
    }
    /* A run left out for want of memory only leaves its faults where they
     * were; without even the header line there is nothing to write. */
    if (!os_array_append(text, HEADER, strlen(HEADER))) {
        fclose(maps);
        os_sys.close(pagemap);
        errno = ENOMEM;
        return -1;
    }
    char line[512];
    size_t listed = 0;
    while (fgets(line, sizeof line, maps) && listed < MAX_PAGES) {
        unsigned long start, end;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3)
            continue;
        /* Private and writable: the pages a write copies.  Not the vsyscall
         * page, nor anything the kernel maps specially. */
        if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' ||
            strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
            continue;
        listed += scan(pagemap, text, start, end, MAX_PAGES - listed);
    }
    fclose(maps);
    os_sys.close(pagemap);
    return 0;
}

int pycds_pages_write(const char *path, const os_array *text)
{
    return os_durable_write_file(path, text->items, text->count, 0644, NULL, 0);
}

int pycds_pages_learn(const char *path)
{
    os_array text = OS_ARRAY_INIT(char);
    int status = pycds_pages_list(&text);
    if (status == 0)
        status = pycds_pages_write(path, &text);
    int saved = errno;
    os_array_free(&text);
    errno = saved;
    return status;
}

long pycds_pages_prefault(const char *path)
{
    FILE *in = fopen(path, "re");
    if (!in)
        return -1;
    char line[128];
    long made = 0;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!fgets(line, sizeof line, in) || strcmp(line, HEADER) != 0) {
        fclose(in);
        errno = EINVAL;
        return -1;
    }
    while (fgets(line, sizeof line, in) && made < MAX_PAGES) {
        unsigned long start;
        size_t count;
        if (sscanf(line, "%lx %zu", &start, &count) != 2 || start % page ||
            count == 0 || count > MAX_PAGES)
            break;
        /* A range no longer mapped (or not writable) is refused by the
         * kernel with nothing done; nothing here can change a page's
         * contents. */
        if (os_sys.madvise((void *)start, count * page, MADV_POPULATE_WRITE) ==
            0)
            made += (long)count;
        else if (errno == EINVAL && made == 0)
            break; /* a kernel without MADV_POPULATE_WRITE */
    }
    fclose(in);
    return made;
}
