/*
 * test_refusal.c - every way an archive is refused, each with its own status.
 *
 * Each test damages a good archive in one way and checks that cds_archive_open
 * (or the lookup that reads the damaged part) answers with the status of the
 * check that catches exactly that damage, never a crash.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"

#define MODULES 12

static char good[512], bad[512];

static void make_good(void)
{
    if (good[0])
        return;
    snprintf(good, sizeof good, "%s/good.img", fixture_dir());
    snprintf(bad, sizeof bad, "%s/bad.img", fixture_dir());
    fixture_options o = {.modules = MODULES, .payload = 3000};
    if (fixture_write(good, &o) != CDS_OK) {
        fprintf(stderr, "cannot write fixture\n");
        exit(2);
    }
}

/* A fresh copy of the good archive in `bad`, and its header. */
static cds_header fresh_copy(void)
{
    make_good();
    cds_header h;
    CHECK(fixture_copy(good, bad) == 0);
    CHECK(fixture_read_header(bad, &h) == 0);
    return h;
}

static cds_status open_bad(unsigned flags, cds_diag *diag)
{
    cds_archive *a = NULL;
    cds_status s = cds_archive_open(&a, bad, FIXTURE_FINGERPRINT,
                                    FIXTURE_FINGERPRINT_SIZE, flags, diag);
    CHECK((s == CDS_OK) == (a != NULL));
    cds_archive_close(a);
    return s;
}

/* Open `bad` expecting success; NULL (and a failed check) otherwise. */
static cds_archive *open_bad_archive(unsigned flags)
{
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, bad, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, flags, NULL),
                 CDS_OK);
    return a;
}

/* Rewrite the header of `bad` with a correct checksum. */
static void rewrite_header(cds_header *h)
{
    h->header_checksum = cds_header_checksum(h);
    CHECK(fixture_write_header(bad, h) == 0);
}

static void test_good_archive_opens(void)
{
    fresh_copy();
    cds_diag diag = {0};
    CHECK_STATUS(open_bad(CDS_OPEN_VERIFY_ALL, &diag), CDS_OK);
}

static void test_wrong_magic(void)
{
    fresh_copy();
    CHECK(fixture_flip_byte(bad, 2) == 0);
    cds_diag diag;
    CHECK_STATUS(open_bad(0, &diag), CDS_E_MAGIC);
    CHECK(strstr(diag.message, "magic") != NULL);
}

static void test_wrong_format_version(void)
{
    cds_header h = fresh_copy();
    h.format_version = CDS_FORMAT_VERSION + 1;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_FORMAT_VERSION);
}

static void test_header_checksum(void)
{
    fresh_copy();
    CHECK(fixture_flip_byte(bad, offsetof(cds_header, fingerprint) + 3) == 0);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_HEADER_CHECKSUM);
    /* A flipped module count is caught the same way. */
    fresh_copy();
    CHECK(fixture_flip_byte(bad, offsetof(cds_header, module_count)) == 0);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_HEADER_CHECKSUM);
}

static void test_fingerprint_mismatch(void)
{
    fresh_copy();
    cds_archive *a = NULL;
    cds_diag diag;
    CHECK_STATUS(cds_archive_open(&a, bad, "fixture-runtime 1.1",
                                  FIXTURE_FINGERPRINT_SIZE, 0, &diag),
                 CDS_E_FINGERPRINT);
    CHECK(a == NULL);
    /* A prefix of the right fingerprint is not the fingerprint. */
    CHECK_STATUS(cds_archive_open(&a, bad, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE - 1, 0, NULL),
                 CDS_E_FINGERPRINT);
    /* Tools may skip the comparison explicitly. */
    CHECK_STATUS(
        cds_archive_open(&a, bad, "other", 5, CDS_OPEN_ANY_FINGERPRINT, NULL),
        CDS_OK);
    cds_archive_close(a);
}

static void test_size_extended(void)
{
    fresh_copy();
    int fd = open(bad, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    close(fd);
    cds_diag diag;
    CHECK_STATUS(open_bad(0, &diag), CDS_E_SIZE);
    CHECK(strstr(diag.message, "extended") != NULL);
}

static void test_truncation_at_every_section_boundary(void)
{
    cds_header h = fresh_copy();
    uint64_t size = fixture_file_size(good);
    for (uint32_t i = 0; i < h.section_count; i++) {
        uint64_t cuts[] = {h.sections[i].offset,
                           h.sections[i].offset + h.sections[i].size / 2,
                           h.sections[i].offset + h.sections[i].size - 1};
        for (size_t c = 0; c < 3; c++) {
            if (cuts[c] >= size || cuts[c] < sizeof(cds_header))
                continue;
            fresh_copy();
            CHECK(fixture_truncate(bad, cuts[c]) == 0);
            cds_diag diag;
            cds_status s = open_bad(0, &diag);
            if (s != CDS_E_SIZE)
                fprintf(stderr, "  cut at %llu in section %s\n",
                        (unsigned long long)cuts[c],
                        cds_section_name(h.sections[i].kind));
            CHECK_STATUS(s, CDS_E_SIZE);
            CHECK(strstr(diag.message, "truncated") != NULL);
        }
    }
    /* Shorter than a header, and empty. */
    uint64_t tiny[] = {0, 1, sizeof(cds_header) - 1};
    for (size_t c = 0; c < 3; c++) {
        fresh_copy();
        CHECK(fixture_truncate(bad, tiny[c]) == 0);
        CHECK_STATUS(open_bad(0, NULL), CDS_E_TOO_SMALL);
    }
}

/* The module whose objects or relocations hold file offset `spot`, or -1. */
static int owner_of(cds_archive *a, const cds_section_entry *s, uint64_t spot)
{
    for (uint32_t m = 0; m < cds_archive_module_count(a); m++) {
        const cds_module_record *r = cds_archive_module(a, m);
        uint64_t begin = r->objects_begin, end = r->objects_end;
        if (s->kind == CDS_SECTION_RELOCS) {
            begin = s->offset + r->relocs_offset;
            end = begin + cds_module_relocs_size(r);
        }
        if (spot >= begin && spot < end)
            return (int)m;
    }
    return -1;
}

static void test_flipped_byte_in_each_section(void)
{
    cds_header h = fresh_copy();
    for (uint32_t i = 0; i < h.section_count; i++) {
        const cds_section_entry *s = &h.sections[i];
        if (s->size == 0)
            continue;
        uint64_t spots[] = {s->offset, s->offset + s->size / 2,
                            s->offset + s->size - 1};
        for (size_t k = 0; k < 3; k++) {
            fresh_copy();
            CHECK(fixture_flip_byte(bad, spots[k]) == 0);
            cds_diag diag;
            if (s->kind != CDS_SECTION_OBJECTS &&
                s->kind != CDS_SECTION_RELOCS) {
                CHECK_STATUS(open_bad(0, &diag), CDS_E_SECTION_CHECKSUM);
                CHECK(strstr(diag.message, cds_section_name(s->kind)) != NULL);
                continue;
            }
            /* Checked up front on request... */
            CHECK_STATUS(open_bad(CDS_OPEN_VERIFY_ALL, &diag),
                         s->kind == CDS_SECTION_OBJECTS
                             ? CDS_E_OBJECTS_CHECKSUM
                             : CDS_E_SECTION_CHECKSUM);
            /* ...and otherwise when the module that holds the byte is first
             * used: it is refused, untouched; the others are fine. */
            cds_archive *a = open_bad_archive(0);
            if (!a)
                continue;
            int owner = owner_of(a, s, spots[k]);
            fixture_runtime rt;
            fixture_runtime_init(&rt);
            if (owner >= 0) {
                CHECK_STATUS(cds_archive_prepare_module(a, owner, &rt.symbols),
                             CDS_E_MODULE_CHECKSUM);
                CHECK(!cds_archive_module_ready(a, owner));
                /* Nothing was applied, so it is refused the same way again. */
                CHECK_STATUS(cds_archive_prepare_module(a, owner, &rt.symbols),
                             CDS_E_MODULE_CHECKSUM);
            }
            /* Trusted (immutable deployments), the check is skipped. */
            cds_archive *trusted = NULL;
            CHECK_STATUS(cds_archive_open(&trusted, bad, FIXTURE_FINGERPRINT,
                                          FIXTURE_FINGERPRINT_SIZE,
                                          CDS_OPEN_TRUST_MODULES, NULL),
                         CDS_OK);
            if (trusted && owner >= 0 && s->kind == CDS_SECTION_OBJECTS) {
                fixture_runtime trt;
                fixture_runtime_init(&trt);
                const cds_module_record *r = cds_archive_module(trusted, owner);
                /* Only where the flip cannot have broken a relocated word. */
                if (spots[k] >= r->root + sizeof(fixture_node))
                    CHECK_STATUS(cds_archive_prepare_module(trusted, owner,
                                                            &trt.symbols),
                                 CDS_OK);
            }
            cds_archive_close(trusted);
            int other = owner == 1 ? 2 : 1; /* depends on module 0 only */
            if (owner != 0 && owner != other)
                CHECK_STATUS(cds_archive_prepare_module(a, other, &rt.symbols),
                             CDS_OK);
            cds_archive_close(a);
        }
    }
}

/* Make module m's checksum match the file again, as a writer would. */
static void fix_module_checksum(cds_header *h, uint32_t m)
{
    const cds_section_entry *mods = &h->sections[CDS_SECTION_MODULES - 1];
    const cds_section_entry *rel = &h->sections[CDS_SECTION_RELOCS - 1];
    int fd = open(bad, O_RDWR);
    CHECK(fd >= 0);
    cds_module_record r;
    off_t at = (off_t)(mods->offset + m * sizeof r);
    CHECK(pread(fd, &r, sizeof r, at) == (ssize_t)sizeof r);
    size_t objects = (size_t)(r.objects_end - r.objects_begin);
    size_t relocs = (size_t)cds_module_relocs_size(&r);
    unsigned char *buffer = malloc(objects + relocs + 1);
    CHECK(pread(fd, buffer, objects, (off_t)r.objects_begin) ==
          (ssize_t)objects);
    CHECK(pread(fd, buffer + objects, relocs,
                (off_t)(rel->offset + r.relocs_offset)) == (ssize_t)relocs);
    r.checksum = cds_module_checksum(buffer, objects, buffer + objects, relocs);
    CHECK(pwrite(fd, &r, sizeof r, at) == (ssize_t)sizeof r);
    free(buffer);
    close(fd);
}

static void test_layout_section_beyond_end(void)
{
    cds_header h = fresh_copy();
    h.sections[CDS_SECTION_STRINGS - 1].size += 4096;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);
}

static void test_layout_overlap_and_order(void)
{
    cds_header h = fresh_copy();
    h.sections[CDS_SECTION_RELOCS - 1].offset =
        h.sections[CDS_SECTION_DEPS - 1].offset - 8;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);

    h = fresh_copy();
    cds_section_entry tmp = h.sections[1];
    h.sections[1] = h.sections[2];
    h.sections[2] = tmp;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);

    h = fresh_copy();
    h.section_count = CDS_SECTION_MAX + 1;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);

    h = fresh_copy();
    h.sections[0].offset += 8; /* objects must start on their page */
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);
}

static void test_layout_bad_base_and_fingerprint_size(void)
{
    cds_header h = fresh_copy();
    h.base_address += 100;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);

    h = fresh_copy();
    h.base_address = UINT64_C(1) << 47; /* kernel space */
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_LAYOUT);

    h = fresh_copy();
    h.fingerprint_size = CDS_FINGERPRINT_MAX + 1;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(CDS_OPEN_ANY_FINGERPRINT, NULL), CDS_E_LAYOUT);
}

/* Change bytes inside a section and fix up its checksum, as a buggy or
 * malicious writer would: the structural checks must still hold. */
static void patch_section(cds_header *h, cds_section_kind kind,
                          uint64_t offset_in_section, const void *data,
                          size_t size)
{
    cds_section_entry *s = &h->sections[kind - 1];
    int fd = open(bad, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, data, size, (off_t)(s->offset + offset_in_section)) ==
          (ssize_t)size);
    close(fd);
    /* A relocation changed: module 0's checksum follows, as it would from a
     * (buggy) writer; then every section checksum is made right. */
    if (kind == CDS_SECTION_RELOCS)
        fix_module_checksum(h, 0);
    fd = open(bad, O_RDWR);
    for (uint32_t i = 0; i < h->section_count; i++) {
        cds_section_entry *e = &h->sections[i];
        unsigned char *buffer = malloc(e->size ? e->size : 1);
        CHECK(pread(fd, buffer, e->size, (off_t)e->offset) == (ssize_t)e->size);
        e->checksum = cds_hash(buffer, e->size);
        free(buffer);
    }
    close(fd);
    rewrite_header(h);
}

static void test_corrupt_module_record(void)
{
    cds_header h = fresh_copy();
    uint32_t huge = 0x7fffffff;
    patch_section(&h, CDS_SECTION_MODULES,
                  0 * sizeof(cds_module_record) +
                      offsetof(cds_module_record, typed_size),
                  &huge, sizeof huge);
    cds_archive *a = open_bad_archive(0);
    if (!a)
        return;
    CHECK(cds_archive_module(a, 0) == NULL);
    CHECK(cds_archive_module(a, 2) != NULL);
    uint32_t number;
    CHECK_STATUS(cds_archive_find(a, "pkg.mod0", 8, &number), CDS_E_CORRUPT);
    CHECK_STATUS(cds_archive_find(a, "pkg.mod2", 8, &number), CDS_OK);
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    CHECK_STATUS(cds_archive_prepare_module(a, 0, &rt.symbols), CDS_E_CORRUPT);
    /* Module 4 depends on 0: refused too, and nothing half-applied. */
    CHECK_STATUS(cds_archive_prepare_module(a, 4, &rt.symbols), CDS_E_CORRUPT);
    CHECK(!cds_archive_module_ready(a, 4));
    cds_archive_close(a);
}

/* Module 0's typed stream (four bytes: type at gap 1, singleton at gap 2)
 * replaced by `stream`, checksums made right: refused, untouched. */
static void check_bad_typed_stream(const unsigned char stream[4])
{
    cds_header h = fresh_copy();
    patch_section(&h, CDS_SECTION_RELOCS, 0, stream, 4);
    cds_archive *a = open_bad_archive(0);
    if (!a)
        return;
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    fixture_node *node = cds_archive_at(a, cds_archive_module(a, 0)->root);
    fixture_node before = *node;
    CHECK_STATUS(cds_archive_prepare_module(a, 0, &rt.symbols), CDS_E_CORRUPT);
    CHECK(!cds_archive_module_ready(a, 0));
    CHECK(rt.interned == 0);
    CHECK(memcmp(node, &before, sizeof before) == 0);
    cds_archive_close(a);
}

static void test_corrupt_relocation_entry(void)
{
    const unsigned char as_written[4] = {0x02, 0x00, 0x05, 0x00};
    cds_header h = fresh_copy();
    cds_module_record r;
    const cds_section_entry *mods = &h.sections[CDS_SECTION_MODULES - 1];
    const cds_section_entry *rel = &h.sections[CDS_SECTION_RELOCS - 1];
    int fd = open(good, O_RDONLY);
    unsigned char typed[4];
    CHECK(pread(fd, &r, sizeof r, (off_t)mods->offset) == (ssize_t)sizeof r);
    CHECK(pread(fd, typed, 4, (off_t)(rel->offset + r.relocs_offset)) == 4);
    close(fd);
    CHECK(r.relocs_offset == 0 && r.typed_size == 4);
    CHECK(memcmp(typed, as_written, 4) == 0);

    /* A gap past the module's objects (8191 words). */
    check_bad_typed_stream((const unsigned char[4]){0xFE, 0x7F, 0x00, 0x00});
    /* An argument past the runtime's types. */
    check_bad_typed_stream(
        (const unsigned char[4]){0x02, FIXTURE_TYPE_COUNT, 0x05, 0x00});
    /* A first gap of 0: the word before the module's objects. */
    check_bad_typed_stream((const unsigned char[4]){0x00, 0x00, 0x05, 0x00});
    /* The same slot twice. */
    check_bad_typed_stream((const unsigned char[4]){0x02, 0x00, 0x01, 0x00});
    /* A varint cut by the end of the stream. */
    check_bad_typed_stream((const unsigned char[4]){0x02, 0x00, 0x05, 0x80});
    /* The last argument missing (the first word in two bytes). */
    check_bad_typed_stream((const unsigned char[4]){0x82, 0x00, 0x00, 0x05});
}

static void test_corrupt_index(void)
{
    cds_header h = fresh_copy();
    uint32_t slots = 12; /* not a power of two */
    patch_section(&h, CDS_SECTION_INDEX, 0, &slots, sizeof slots);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_CORRUPT);

    /* A slot naming a module that does not exist. */
    h = fresh_copy();
    cds_header hh;
    fixture_read_header(good, &hh);
    unsigned char *index = malloc(hh.sections[CDS_SECTION_INDEX - 1].size);
    int fd = open(good, O_RDONLY);
    CHECK(pread(fd, index, hh.sections[CDS_SECTION_INDEX - 1].size,
                (off_t)hh.sections[CDS_SECTION_INDEX - 1].offset) > 0);
    close(fd);
    cds_index_slot *s = (cds_index_slot *)(index + sizeof(cds_index_header));
    uint32_t count = ((cds_index_header *)index)->slot_count;
    for (uint32_t i = 0; i < count; i++)
        if (s[i].module)
            s[i].module = 1000;
    patch_section(&h, CDS_SECTION_INDEX, 0, index,
                  hh.sections[CDS_SECTION_INDEX - 1].size);
    free(index);
    cds_archive *a = open_bad_archive(0);
    uint32_t number;
    CHECK_STATUS(cds_archive_find(a, "pkg.mod1", 8, &number), CDS_E_CORRUPT);
    cds_archive_close(a);

    /* Too few modules for the records section. */
    h = fresh_copy();
    h.module_count = MODULES + 1;
    rewrite_header(&h);
    CHECK_STATUS(open_bad(0, NULL), CDS_E_CORRUPT);
}

static void test_not_an_archive(void)
{
    make_good();
    char path[600];
    /* A directory. */
    cds_archive *a;
    CHECK_STATUS(cds_archive_open(&a, fixture_dir(), NULL, 0,
                                  CDS_OPEN_ANY_FINGERPRINT, NULL),
                 CDS_E_NOT_REGULAR);
    /* A FIFO with no writer: refused at once, not waited on. */
    snprintf(path, sizeof path, "%s/fifo.img", fixture_dir());
    unlink(path);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK_STATUS(
        cds_archive_open(&a, path, NULL, 0, CDS_OPEN_ANY_FINGERPRINT, NULL),
        CDS_E_NOT_REGULAR);
    unlink(path);
    /* A missing file. */
    snprintf(path, sizeof path, "%s/missing.img", fixture_dir());
    cds_diag diag;
    CHECK_STATUS(cds_archive_open(&a, path, NULL, 0, 0, &diag), CDS_E_IO);
    CHECK(strstr(diag.message, "No such file") != NULL);
    /* Zeros and noise of a plausible size. */
    snprintf(path, sizeof path, "%s/noise.img", fixture_dir());
    unsigned char junk[8192];
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = kind ? (unsigned char)(i * 131u + 7u) : 0;
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(junk, 1, sizeof junk, f) == sizeof junk);
        fclose(f);
        CHECK_STATUS(
            cds_archive_open(&a, path, NULL, 0, CDS_OPEN_ANY_FINGERPRINT, NULL),
            CDS_E_MAGIC);
    }
}

static void test_status_names(void)
{
    for (int s = 0; s < CDS_E_STATUS_COUNT; s++) {
        const char *name = cds_strerror((cds_status)s);
        CHECK(name && *name && strcmp(name, "unknown status") != 0);
    }
    CHECK(strcmp(cds_strerror((cds_status)999), "unknown status") == 0);
    CHECK(strcmp(cds_strerror((cds_status)-1), "unknown status") == 0);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_good_archive_opens), TEST(test_wrong_magic),
           TEST(test_wrong_format_version), TEST(test_header_checksum),
           TEST(test_fingerprint_mismatch), TEST(test_size_extended),
           TEST(test_truncation_at_every_section_boundary),
           TEST(test_flipped_byte_in_each_section),
           TEST(test_layout_section_beyond_end),
           TEST(test_layout_overlap_and_order),
           TEST(test_layout_bad_base_and_fingerprint_size),
           TEST(test_corrupt_module_record),
           TEST(test_corrupt_relocation_entry), TEST(test_corrupt_index),
           TEST(test_not_an_archive), TEST(test_status_names), TEST(cleanup))
