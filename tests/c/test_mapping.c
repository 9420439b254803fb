/*
 * test_mapping.c - fixed addresses: the archive goes to its preferred address
 * when free, elsewhere with the right delta when not, and an existing mapping
 * is never replaced, by the reader or by the writer.
 */
#include <sys/mman.h>

#include "check.h"
#include "fixture.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static char path[512];

/* Occupy `size` bytes at `address` and fill them with a pattern. */
static unsigned char *occupy(uint64_t address, size_t size)
{
    void *p = mmap((void *)(uintptr_t)address, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(p == (void *)(uintptr_t)address);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0xa5, size);
    return p;
}

static int pattern_intact(const unsigned char *p, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (p[i] != 0xa5)
            return 0;
    return 1;
}

/* With flags 0, every object is read in at open; with CDS_OPEN_NO_POPULATE,
 * as modules are prepared: either way into the window at its new place. */
static void check_relocated_archive(uint64_t blocked, size_t blocked_size,
                                    unsigned flags)
{
    unsigned char *blocker = occupy(blocked, blocked_size);
    if (!blocker)
        return;
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, flags, NULL),
                 CDS_OK);
    CHECK(pattern_intact(blocker, blocked_size));
    if (a) {
        uintptr_t base = (uintptr_t)cds_archive_base(a);
        CHECK(base != CDS_DEFAULT_BASE);
        CHECK_EQ_INT(cds_archive_delta(a), (int64_t)(base - CDS_DEFAULT_BASE));
        /* Every module's pointers now point into the new place. */
        fixture_runtime rt;
        fixture_runtime_init(&rt);
        for (uint32_t m = 0; m < 4; m++) {
            CHECK_STATUS(cds_archive_prepare_module(a, m, &rt.symbols), CDS_OK);
            fixture_node *node =
                cds_archive_at(a, cds_archive_module(a, m)->root);
            fixture_node *first =
                cds_archive_at(a, cds_archive_module(a, 0)->root);
            CHECK(node->self == node);
            CHECK(node->name == node->text);
            CHECK(node->first == (m ? first : NULL));
            CHECK(node->type == rt.types[m % FIXTURE_TYPE_COUNT]);
        }
        cds_archive_close(a);
    }
    CHECK(pattern_intact(blocker, blocked_size));
    munmap(blocker, blocked_size);
}

static void test_preferred_address_taken_at_start(void)
{
    snprintf(path, sizeof path, "%s/map.img", fixture_dir());
    fixture_options o = {.modules = 4, .payload = 20000};
    CHECK_STATUS(fixture_write(path, &o), CDS_OK);
    check_relocated_archive(CDS_DEFAULT_BASE, 4096, 0);
    check_relocated_archive(CDS_DEFAULT_BASE, 4096, CDS_OPEN_NO_POPULATE);
}

static void test_preferred_range_taken_in_the_middle(void)
{
    /* Only a page deep inside the range is taken: still never replaced. */
    check_relocated_archive(CDS_DEFAULT_BASE + 3 * 4096, 4096, 0);
    check_relocated_archive(CDS_DEFAULT_BASE + 3 * 4096, 4096,
                            CDS_OPEN_NO_POPULATE);
}

static void test_preferred_address_free_again(void)
{
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, 0, NULL),
                 CDS_OK);
    if (a) {
        CHECK((uintptr_t)cds_archive_base(a) == CDS_DEFAULT_BASE);
        CHECK_EQ_INT(cds_archive_delta(a), 0);
    }
    /* A second open of the same archive in one process maps elsewhere. */
    cds_archive *b = NULL;
    CHECK_STATUS(cds_archive_open(&b, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, 0, NULL),
                 CDS_OK);
    if (a && b) {
        CHECK(cds_archive_base(b) != cds_archive_base(a));
        CHECK(cds_archive_delta(b) != 0);
    }
    cds_archive_close(b);
    cds_archive_close(a);
}

static void test_writer_refuses_taken_address(void)
{
    unsigned char *blocker =
        occupy(CDS_DEFAULT_BASE + CDS_OBJECTS_OFFSET + (64u << 20), 4096);
    if (!blocker)
        return;
    cds_writer *w = NULL;
    cds_diag diag;
    CHECK_STATUS(cds_writer_create(&w, NULL, &diag), CDS_E_ADDRESS_IN_USE);
    CHECK(w == NULL);
    CHECK(strstr(diag.message, "already mapped") != NULL);
    CHECK(pattern_intact(blocker, 4096));
    /* Another base works. */
    cds_writer_options o = {.base_address =
                                CDS_DEFAULT_BASE + (UINT64_C(1) << 36)};
    CHECK_STATUS(cds_writer_create(&w, &o, NULL), CDS_OK);
    cds_writer_destroy(w);
    munmap(blocker, 4096);
}

static void test_archive_at_other_base(void)
{
    char other[600];
    snprintf(other, sizeof other, "%s/other.img", fixture_dir());
    uint64_t base = UINT64_C(0x500000000000);
    fixture_options o = {.base_address = base, .modules = 3};
    CHECK_STATUS(fixture_write(other, &o), CDS_OK);
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, other, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, 0, NULL),
                 CDS_OK);
    if (a) {
        CHECK((uint64_t)(uintptr_t)cds_archive_base(a) == base);
        CHECK_EQ_INT(cds_archive_header(a)->base_address, base);
    }
    cds_archive_close(a);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_preferred_address_taken_at_start),
           TEST(test_preferred_range_taken_in_the_middle),
           TEST(test_preferred_address_free_again),
           TEST(test_writer_refuses_taken_address),
           TEST(test_archive_at_other_base), TEST(cleanup))
