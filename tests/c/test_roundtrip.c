/*
 * test_roundtrip.c - what the writer puts in, the reader gives back: header,
 * fingerprint, user data, module records and index, relocations.
 */
#include <sys/mman.h>

#include "check.h"
#include "fixture.h"

#define MODULES 700

static char path[512];

static void make_archive(void)
{
    snprintf(path, sizeof path, "%s/round.img", fixture_dir());
    fixture_options o = {.modules = MODULES, .payload = 100};
    CHECK_STATUS(fixture_write(path, &o), CDS_OK);
}

static cds_archive *open_archive(unsigned flags)
{
    cds_archive *a = NULL;
    cds_diag diag = {0};
    cds_status s = cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                    FIXTURE_FINGERPRINT_SIZE, flags, &diag);
    if (s != CDS_OK)
        fprintf(stderr, "open: %s\n", diag.message);
    CHECK_STATUS(s, CDS_OK);
    return a;
}

static void test_header_round_trip(void)
{
    make_archive();
    cds_archive *a = open_archive(CDS_OPEN_VERIFY_ALL);
    if (!a)
        return;
    const cds_header *h = cds_archive_header(a);
    CHECK(memcmp(h->magic, CDS_MAGIC, CDS_MAGIC_SIZE) == 0);
    CHECK_EQ_INT(h->format_version, CDS_FORMAT_VERSION);
    CHECK_EQ_INT(h->base_address, CDS_DEFAULT_BASE);
    CHECK_EQ_INT(h->file_size, fixture_file_size(path));
    CHECK_EQ_INT(h->module_count, MODULES);
    CHECK_EQ_INT(h->fingerprint_size, FIXTURE_FINGERPRINT_SIZE);
    CHECK(memcmp(h->fingerprint, FIXTURE_FINGERPRINT,
                 FIXTURE_FINGERPRINT_SIZE) == 0);
    CHECK_EQ_INT(cds_archive_module_count(a), MODULES);
    /* Nothing else is mapped there in this test, so no relocation. */
    CHECK((uint64_t)(uintptr_t)cds_archive_base(a) == CDS_DEFAULT_BASE);
    CHECK_EQ_INT(cds_archive_delta(a), 0);
    size_t size;
    const char *user = cds_archive_user(a, &size);
    CHECK(size == 9 && memcmp(user, "user-data", 9) == 0);
    CHECK_STATUS(cds_archive_verify_objects(a, NULL), CDS_OK);
    cds_archive_close(a);
}

static void test_index_finds_every_module(void)
{
    cds_archive *a = open_archive(0);
    if (!a)
        return;
    for (uint32_t m = 0; m < MODULES; m++) {
        char name[64];
        fixture_module_name(m, name, sizeof name);
        uint32_t number = UINT32_MAX;
        CHECK_STATUS(cds_archive_find(a, name, strlen(name), &number), CDS_OK);
        CHECK_EQ_INT(number, m);
        const cds_module_record *r = cds_archive_module(a, number);
        CHECK(r != NULL);
        if (!r)
            continue;
        size_t size;
        const char *s = cds_archive_string(a, r->name, &size);
        CHECK(size == strlen(name) && memcmp(s, name, size) == 0);
        char origin[96];
        snprintf(origin, sizeof origin, "/src/pkg/mod%u.py", m);
        s = cds_archive_string(a, r->origin, &size);
        CHECK(size == strlen(origin) && memcmp(s, origin, size) == 0);
        s = cds_archive_string(a, r->extra, &size);
        CHECK(size == 1 && s[0] == 'x');
        cds_archive_string(a, r->cached, &size);
        CHECK(size == 0);
        CHECK_EQ_INT(r->flags, m % 2 ? CDS_MODULE_PACKAGE : 0);
        CHECK_EQ_INT(r->source_mtime_ns, 1000 + m);
        CHECK_EQ_INT(r->source_size, 10 * m);
        CHECK_EQ_INT(r->source_hash, 0xabcdef00u + m);
        CHECK_EQ_INT(r->deps_count, m ? 1 : 0);
        CHECK(r->objects_begin < r->objects_end);
        /* Three streams: type and singleton; self and first; name. */
        CHECK_EQ_INT(r->reloc_count, m ? 5 : 4);
        CHECK_EQ_INT(r->typed_size, 4); /* two entries of two bytes */
        CHECK_EQ_INT(r->internal_size, m ? 2 : 1);
        CHECK_EQ_INT(r->intern_size, 1);
        CHECK(r->root >= r->objects_begin && r->root < r->objects_end);
    }
    /* Absent names, including prefixes and near misses. */
    uint32_t number;
    const char *absent[] = {"pkg", "pkg.mod", "pkg.mod7000", "pkg.mod1 ", ""};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        CHECK_STATUS(cds_archive_find(a, absent[i], strlen(absent[i]), &number),
                     CDS_E_NOT_FOUND);
    CHECK(cds_archive_module(a, MODULES) == NULL);
    cds_archive_close(a);
}

static void check_module_fixed(cds_archive *a, fixture_runtime *rt, uint32_t m)
{
    const cds_module_record *r = cds_archive_module(a, m);
    fixture_node *node = cds_archive_at(a, r->root);
    fixture_node *first = cds_archive_at(a, cds_archive_module(a, 0)->root);
    CHECK(node->type == rt->types[m % FIXTURE_TYPE_COUNT]);
    CHECK(node->singleton == rt->singletons[m % FIXTURE_SINGLETON_COUNT]);
    CHECK(node->self == node);
    CHECK(node->name == node->text);
    CHECK(node->first == (m ? first : NULL));
    CHECK_EQ_INT(node->number, m);
}

static void test_prepare_relocates_module_and_its_deps_once(void)
{
    cds_archive *a = open_archive(0);
    if (!a)
        return;
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    CHECK(!cds_archive_module_ready(a, 0));
    CHECK(!cds_archive_module_ready(a, 5));
    CHECK_STATUS(cds_archive_prepare_module(a, 5, &rt.symbols), CDS_OK);
    CHECK(cds_archive_module_ready(a, 5));
    CHECK(cds_archive_module_ready(a, 0)); /* its dependency */
    CHECK(!cds_archive_module_ready(a, 4));
    CHECK_EQ_INT(rt.interned, 2);
    check_module_fixed(a, &rt, 5);
    check_module_fixed(a, &rt, 0);
    /* Again: nothing is applied twice. */
    CHECK_STATUS(cds_archive_prepare_module(a, 5, &rt.symbols), CDS_OK);
    CHECK_STATUS(cds_archive_prepare_module(a, 0, &rt.symbols), CDS_OK);
    CHECK_EQ_INT(rt.interned, 2);
    /* Untouched modules keep their type words unset. */
    fixture_node *other = cds_archive_at(a, cds_archive_module(a, 4)->root);
    CHECK(other->type == NULL);
    CHECK_STATUS(cds_archive_prepare_module(a, MODULES, &rt.symbols),
                 CDS_E_CORRUPT);
    cds_archive_close(a);
}

static int redirect_intern(void *context, void **const *slots, size_t count)
{
    for (size_t i = 0; i < count; i++)
        *slots[i] = context; /* as when an equal string is interned already */
    return 0;
}

static int refuse_intern(void *context, void **const *slots, size_t count)
{
    (void)context, (void)slots, (void)count;
    return -1;
}

static void test_intern_callback_may_redirect_or_fail(void)
{
    cds_archive *a = open_archive(0);
    if (!a)
        return;
    static char interned[] = "module 3";
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    rt.symbols.intern = redirect_intern;
    rt.symbols.context = interned;
    CHECK_STATUS(cds_archive_prepare_module(a, 3, &rt.symbols), CDS_OK);
    fixture_node *node = cds_archive_at(a, cds_archive_module(a, 3)->root);
    CHECK(node->name == interned);

    rt.symbols.intern = refuse_intern;
    CHECK_STATUS(cds_archive_prepare_module(a, 6, &rt.symbols),
                 CDS_E_INVALID_ARGUMENT);
    CHECK(!cds_archive_module_ready(a, 6));
    /* Without an intern callback, a module with intern entries is refused
     * before anything is written. */
    rt.symbols.intern = NULL;
    CHECK_STATUS(cds_archive_prepare_module(a, 8, &rt.symbols),
                 CDS_E_INVALID_ARGUMENT);
    node = cds_archive_at(a, cds_archive_module(a, 8)->root);
    CHECK(node->type == NULL);
    cds_archive_close(a);
}

static void test_varint_encoding(void)
{
    /* Each length from 1 to 10 bytes, at both ends. */
    uint64_t values[] = {0,         1,      0x7F,       0x80,
                         0x3FFF,    0x4000, UINT32_MAX, UINT64_C(1) << 42,
                         UINT64_MAX};
    unsigned lengths[] = {1, 1, 1, 2, 2, 3, 5, 7, 10};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        unsigned char bytes[CDS_VARINT_MAX];
        unsigned n = cds_varint_put(bytes, values[i]);
        CHECK_EQ_INT(n, lengths[i]);
        uint64_t back = 0;
        for (unsigned b = 0; b < n; b++) {
            CHECK_EQ_INT((bytes[b] & 0x80) != 0, b + 1 < n);
            back |= (uint64_t)(bytes[b] & 0x7F) << (7 * b);
        }
        CHECK(back == values[i]);
    }
}

static void test_mapping_is_private(void)
{
    /* Writes to the mapping must not reach the file. */
    cds_archive *a = open_archive(0);
    if (!a)
        return;
    fixture_node *node = cds_archive_at(a, cds_archive_module(a, 1)->root);
    node->number = 4242;
    cds_archive_close(a);
    a = open_archive(CDS_OPEN_VERIFY_ALL);
    if (!a)
        return;
    node = cds_archive_at(a, cds_archive_module(a, 1)->root);
    CHECK_EQ_INT(node->number, 1);
    cds_archive_close(a);
}

static void test_empty_archive(void)
{
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.img", fixture_dir());
    fixture_options o = {.modules = 0};
    cds_archive *a = fixture_open(empty, &o, CDS_OPEN_VERIFY_ALL);
    CHECK(a != NULL);
    uint32_t number;
    if (a)
        CHECK_STATUS(cds_archive_find(a, "x", 1, &number), CDS_E_NOT_FOUND);
    cds_archive_close(a);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_header_round_trip), TEST(test_index_finds_every_module),
           TEST(test_prepare_relocates_module_and_its_deps_once),
           TEST(test_intern_callback_may_redirect_or_fail),
           TEST(test_varint_encoding), TEST(test_mapping_is_private),
           TEST(test_empty_archive), TEST(cleanup))
