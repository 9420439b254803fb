/*
 * test_pages.c - the pages a forked process wrote are listed exactly (and
 * only those), and another forked process made to write them ahead owns
 * exactly those pages afterwards, with their contents unchanged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pages.h"

#define PAGES 8

static size_t page;

/* Whether each page of the region is this process's own (pagemap). */
static void owned(const unsigned char *region, int out[PAGES])
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t entries[PAGES];
    off_t at = (off_t)((uintptr_t)region / page * 8);
    if (fd < 0 || pread(fd, entries, sizeof entries, at) != sizeof entries)
        _exit(90);
    close(fd);
    for (int i = 0; i < PAGES; i++)
        out[i] = (entries[i] >> 63 & 1) && (entries[i] >> 56 & 1);
}

/* Run fn in a forked child; its exit status. */
static int in_child(int (*fn)(unsigned char *, const char *),
                    unsigned char *region, const char *path)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(region, path));
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static int write_some_and_learn(unsigned char *region, const char *path)
{
    for (int i = 0; i < PAGES; i += 2)
        region[i * page] = (unsigned char)(i + 1); /* a copy-on-write */
    return pycds_pages_learn(path) == 0 ? 0 : 1;
}

static int prefault_and_check(unsigned char *region, const char *path)
{
    int before[PAGES], after[PAGES];
    owned(region, before);
    for (int i = 0; i < PAGES; i++)
        if (before[i])
            return 10 + i; /* shared with the parent until written */
    if (pycds_pages_prefault(path) < PAGES / 2)
        return 2;
    owned(region, after);
    for (int i = 0; i < PAGES; i++) {
        if (after[i] != (i % 2 == 0))
            return 20 + i;
        if (region[i * page] != 0xAB) /* the parent's contents */
            return 30 + i;
    }
    return 0;
}

static void test_learn_then_prefault(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *region = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED);
    for (int i = 0; i < PAGES; i++)
        region[i * page] = 0xAB; /* present in the parent */
    char path[] = "/tmp/pages-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ_INT(in_child(write_some_and_learn, region, path), 0);
    /* The list names the written pages, one run each, not the others. */
    FILE *f = fopen(path, "r");
    char line[128];
    int seen[PAGES] = {0};
    CHECK(f && fgets(line, sizeof line, f) &&
          strcmp(line, "pycds pages 1\n") == 0);
    while (f && fgets(line, sizeof line, f)) {
        unsigned long start;
        size_t count;
        if (sscanf(line, "%lx %zu", &start, &count) != 2)
            continue;
        for (size_t k = 0; k < count; k++) {
            uintptr_t at = start + k * page;
            if (at >= (uintptr_t)region &&
                at < (uintptr_t)region + PAGES * page)
                seen[(at - (uintptr_t)region) / page]++;
        }
    }
    if (f)
        fclose(f);
    for (int i = 0; i < PAGES; i++)
        CHECK_EQ_INT(seen[i], i % 2 == 0);
    CHECK_EQ_INT(in_child(prefault_and_check, region, path), 0);
    /* A damaged list is refused whole. */
    f = fopen(path, "w");
    fputs("not a list\n", f);
    fclose(f);
    CHECK(pycds_pages_prefault(path) == -1);
    CHECK(pycds_pages_prefault("/nonexistent/list") == -1);
    unlink(path);
    munmap(region, PAGES * page);
}

CHECK_MAIN(TEST(test_learn_then_prefault))
