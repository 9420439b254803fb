/*
 * test_load.c - objects are read in when first used: page by page for a
 * program's first megabyte, then an extent at a time, with the same bytes
 * and checksums whichever way they come in.
 *
 * Residency of the object window is what mincore(2) reports: the window is
 * anonymous memory, so a page is resident only once something was read
 * into it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "check.h"
#include "fixture.h"

#define EXTENT (UINT64_C(2) << 20)

static char path[512];

/* Modules of about 1.5 MiB each, so that they lie in different extents. */
static void write_big_archive(void)
{
    snprintf(path, sizeof path, "%s/load.img", fixture_dir());
    fixture_options o = {.modules = 6, .payload = 1536u << 10};
    CHECK_STATUS(fixture_write(path, &o), CDS_OK);
}

static cds_archive *open_lazily(void)
{
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE,
                                  CDS_OPEN_NO_POPULATE, NULL),
                 CDS_OK);
    return a;
}

/* Whether the window page holding file offset `offset` is resident. */
static int resident(cds_archive *a, uint64_t offset)
{
    unsigned char *base = cds_archive_base(a);
    uintptr_t page = ((uintptr_t)base + offset) & ~(uintptr_t)4095;
    unsigned char state = 0;
    CHECK(mincore((void *)page, 4096, &state) == 0);
    return state & 1;
}

static void check_module(cds_archive *a, fixture_runtime *rt, uint32_t m)
{
    CHECK_STATUS(cds_archive_prepare_module(a, m, &rt->symbols), CDS_OK);
    fixture_node *node = cds_archive_at(a, cds_archive_module(a, m)->root);
    char text[32];
    snprintf(text, sizeof text, "module %u", m);
    CHECK(node && node->self == node && node->number == m);
    CHECK(node && strcmp(node->text, text) == 0);
}

static void test_only_used_extents_are_read(void)
{
    write_big_archive();
    cds_archive *a = open_lazily();
    if (!a)
        return;
    const cds_module_record *last =
        cds_archive_module(a, cds_archive_module_count(a) - 1);
    CHECK(last->objects_begin / EXTENT >= 3); /* several extents apart */
    CHECK(!resident(a, cds_archive_module(a, 0)->root));
    CHECK(!resident(a, last->root));
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    check_module(a, &rt, 0);
    CHECK(resident(a, cds_archive_module(a, 0)->root));
    CHECK(!resident(a, last->root)); /* never used: never read */
    check_module(a, &rt, cds_archive_module_count(a) - 1);
    CHECK(resident(a, last->root));
    /* Its extent is read only up to the objects' end: the sections after
     * them (here in the same extent) are read from the file's mapping. */
    uint64_t after = (last->objects_end + 4095) & ~UINT64_C(4095);
    CHECK(after / EXTENT == last->objects_end / EXTENT);
    CHECK(!resident(a, after));
    cds_archive_close(a);
}

static void test_a_little_is_read_by_pages_a_lot_by_extents(void)
{
    char small[600];
    snprintf(small, sizeof small, "%s/small.img", fixture_dir());
    fixture_options o = {.modules = 40, .payload = 64u << 10};
    cds_archive *a = fixture_open(small, &o, CDS_OPEN_NO_POPULATE);
    CHECK(a != NULL);
    if (!a)
        return;
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    /* The middle of a module: no page there holds another module's. */
    const cds_module_record *next = cds_archive_module(a, 1);
    uint64_t second = (next->objects_begin + next->objects_end) / 2;
    CHECK(cds_archive_module(a, 0)->root / EXTENT == second / EXTENT);
    check_module(a, &rt, 0);
    /* The same extent, but not a page the module lies on: not read. */
    CHECK(!resident(a, second));
    /* A megabyte of modules later, a first touch reads its extent whole. */
    uint32_t m = 1;
    while (cds_archive_module(a, m)->objects_end < (UINT64_C(3) << 19))
        check_module(a, &rt, m++);
    uint32_t last = cds_archive_module_count(a) - 1;
    const cds_module_record *far = cds_archive_module(a, last);
    uint32_t first_in_extent = last;
    while (first_in_extent > m &&
           cds_archive_module(a, first_in_extent - 1)->objects_begin / EXTENT ==
               far->objects_begin / EXTENT)
        first_in_extent--;
    CHECK(cds_archive_module(a, m)->objects_end / EXTENT <
          far->objects_begin / EXTENT);
    uint64_t middle = (far->objects_begin + far->objects_end) / 2;
    CHECK(first_in_extent != last);
    CHECK(!resident(a, middle));
    check_module(a, &rt, first_in_extent);
    CHECK(resident(a, middle)); /* read with its extent, though unused */
    cds_archive_close(a);
}

/* Whole pages of a module's objects go back to the kernel, read by pages or
 * with an extent; a range outside one module's objects is refused. */
static void test_pages_given_back_are_no_longer_resident(void)
{
    write_big_archive();
    cds_archive *a = open_lazily();
    if (!a)
        return;
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    unsigned char *base = cds_archive_base(a);
    uint32_t count = cds_archive_module_count(a);
    for (uint32_t m = 0; m < count; m += count - 1) { /* first and last */
        check_module(a, &rt, m);
        const cds_module_record *r = cds_archive_module(a, m);
        uint64_t begin = r->objects_begin + 100;
        uint64_t first = (begin + 4095) & ~UINT64_C(4095);
        uint64_t size = first + 5 * 4096 + 200 - begin; /* 5 whole pages */
        uint64_t given = 0;
        CHECK(resident(a, first) && resident(a, first + 4096));
        CHECK_STATUS(cds_archive_give_back(a, base + begin, size, &given),
                     CDS_OK);
        CHECK(given == 5 * 4096);
        CHECK(!resident(a, first) && !resident(a, first + 4 * 4096));
        CHECK(resident(a, begin) && resident(a, first + 5 * 4096));
        /* Not read in again: the module stays prepared as it was. */
        CHECK(cds_archive_at(a, r->root) != NULL);
        CHECK(!resident(a, first));
    }
    uint64_t given = 1;
    const cds_module_record *r0 = cds_archive_module(a, 0);
    CHECK_STATUS(
        cds_archive_give_back(a, base + r0->objects_end - 8, 4096, &given),
        CDS_E_CORRUPT); /* runs into the next module */
    CHECK(given == 0);
    CHECK_STATUS(cds_archive_give_back(a, base, 4096, &given), CDS_E_CORRUPT);
    cds_archive_close(a);
}

/* The descriptor the archive keeps for its reads, found in /proc. */
static int archive_fd(void)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return -1;
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;
    int found = -1;
    while (dir && (entry = readdir(dir))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", entry->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, real) == 0)
                found = atoi(entry->d_name);
        }
    }
    if (dir)
        closedir(dir);
    return found;
}

static void test_descriptor_reused_by_the_program(void)
{
    cds_archive *a = open_lazily();
    if (!a)
        return;
    int fd = archive_fd();
    CHECK(fd > 2);
    /* The program puts something else under that number: the archive
     * notices, and copies its bytes from its read-only mapping instead. */
    int other = open("/dev/zero", O_RDONLY);
    CHECK(fd < 0 || dup2(other, fd) == fd);
    close(other);
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    for (uint32_t m = 0; m < cds_archive_module_count(a); m++)
        check_module(a, &rt, m);
    cds_archive_close(a);
    if (fd >= 0)
        CHECK(fcntl(fd, F_GETFD) == -1); /* closed with the archive */
}

static void test_bulk_and_lazy_reads_agree(void)
{
    cds_archive *lazy = open_lazily(), *bulk = NULL;
    CHECK_STATUS(cds_archive_open(&bulk, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, CDS_OPEN_VERIFY_ALL,
                                  NULL),
                 CDS_OK);
    if (lazy && bulk) {
        for (uint32_t m = 0; m < cds_archive_module_count(lazy); m++) {
            const cds_module_record *r = cds_archive_module(lazy, m);
            size_t size = (size_t)(r->objects_end - r->objects_begin);
            void *x = cds_archive_at(lazy, r->objects_begin);
            void *y = cds_archive_at(bulk, r->objects_begin);
            CHECK(x && y && memcmp(x, y, size) == 0);
        }
        CHECK(cds_archive_at(lazy, 16) == NULL); /* the header: no module */
    }
    cds_archive_close(lazy);
    cds_archive_close(bulk);
}

static void test_another_modules_bytes_come_from_the_file(void)
{
    cds_archive *a = open_lazily();
    if (!a)
        return;
    const cds_module_record *r = cds_archive_module(a, 2);
    unsigned char *in_window = (unsigned char *)cds_archive_base(a) + r->root;
    cds_status status;
    const fixture_node *copy =
        cds_archive_file_bytes(a, in_window, sizeof *copy, &status);
    CHECK_STATUS(status, CDS_OK);
    CHECK(copy && copy->number == 2 && strcmp(copy->text, "module 2") == 0);
    CHECK(!resident(a, r->root)); /* nothing read into the window */
    CHECK(cds_archive_file_bytes(a, in_window, 1u << 30, &status) == NULL);
    CHECK_STATUS(status, CDS_E_CORRUPT); /* past the module */
    cds_archive_close(a);
}

static void test_hash_is_xxh3(void)
{
    static unsigned char data[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    size_t sizes[] = {0,   1,   16,   17,   128,   129,
                      240, 241, 1024, 4095, 65536, sizeof data};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        CHECK(cds_hash(data, n) == XXH3_64bits(data, n));
        CHECK(cds_module_checksum(data, n, data + 7, n / 3) ==
              XXH3_64bits_withSeed(data + 7, n / 3, XXH3_64bits(data, n)));
    }
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_only_used_extents_are_read),
           TEST(test_pages_given_back_are_no_longer_resident),
           TEST(test_a_little_is_read_by_pages_a_lot_by_extents),
           TEST(test_descriptor_reused_by_the_program),
           TEST(test_bulk_and_lazy_reads_agree),
           TEST(test_another_modules_bytes_come_from_the_file),
           TEST(test_hash_is_xxh3), TEST(cleanup))
