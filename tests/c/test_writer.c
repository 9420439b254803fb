/*
 * test_writer.c - the writer's contract: arena allocation, module
 * bookkeeping, argument checks, and the atomic replacement of the file.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "check.h"
#include "fixture.h"

static cds_writer *new_writer(uint64_t max)
{
    cds_writer_options o = {.base_address = 0, .max_object_size = max};
    cds_writer *w = NULL;
    CHECK_STATUS(cds_writer_create(&w, &o, NULL), CDS_OK);
    return w;
}

/* Finish `w` into the fixture directory as `name`, destroy it, and open
 * what it wrote (NULL, counted as a failure, when either step fails). */
static cds_archive *finish_and_open(cds_writer *w, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
    CHECK_STATUS(cds_writer_finish(w, path, NULL, 0, NULL), CDS_OK);
    cds_writer_destroy(w);
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, NULL, 0, 0, NULL), CDS_OK);
    return a;
}

static void test_alloc_alignment_zeroing_and_limit(void)
{
    cds_writer *w = new_writer(1 << 20);
    if (!w)
        return;
    unsigned char *a = cds_writer_alloc(w, 3, 1);
    unsigned char *b = cds_writer_alloc(w, 16, 16);
    CHECK(a && b && (uintptr_t)b % 16 == 0 && b >= a + 3);
    CHECK((uintptr_t)a == CDS_DEFAULT_BASE + CDS_OBJECTS_OFFSET);
    for (int i = 0; i < 16; i++)
        CHECK(b[i] == 0);
    CHECK(cds_writer_alloc(w, 8, 3) == NULL);        /* not a power of 2 */
    CHECK(cds_writer_alloc(w, 8, 8192) == NULL);     /* over a page */
    CHECK(cds_writer_alloc(w, 2 << 20, 8) == NULL);  /* over the limit */
    CHECK(cds_writer_alloc(w, SIZE_MAX, 8) == NULL); /* overflow */
    CHECK(cds_writer_alloc(w, (1 << 20) - 64, 8) != NULL);
    CHECK(cds_writer_object_size(w) <= (1 << 20));
    CHECK(cds_writer_contains(w, b, 16));
    CHECK(!cds_writer_contains(w, b - 4096, 1));
    cds_writer_destroy(w);
}

static void test_module_argument_checks(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    int outside;
    cds_module_info info = {.name = "m"};
    CHECK_STATUS(cds_writer_add_reloc(w, &outside, CDS_RELOC_TYPE, 0),
                 CDS_E_INVALID_ARGUMENT); /* not inside a module */
    CHECK_STATUS(cds_writer_end_module(w, NULL), CDS_E_INVALID_ARGUMENT);
    cds_module_info unnamed = {.name = ""};
    CHECK_STATUS(cds_writer_begin_module(w, &unnamed, NULL),
                 CDS_E_INVALID_ARGUMENT);
    uint32_t number = 99;
    CHECK_STATUS(cds_writer_begin_module(w, &info, &number), CDS_OK);
    CHECK_EQ_INT(number, 0);
    CHECK_STATUS(cds_writer_begin_module(w, &info, NULL),
                 CDS_E_INVALID_ARGUMENT); /* nested */
    void **word = cds_writer_alloc(w, 16, 8);
    CHECK_STATUS(cds_writer_add_reloc(w, &outside, CDS_RELOC_TYPE, 0),
                 CDS_E_INVALID_ARGUMENT); /* slot outside the arena */
    CHECK_STATUS(cds_writer_add_reloc(w, (char *)word + 4, CDS_RELOC_TYPE, 0),
                 CDS_E_INVALID_ARGUMENT); /* misaligned */
    CHECK_STATUS(cds_writer_add_reloc(w, word, (cds_reloc_kind)7, 0),
                 CDS_E_INVALID_ARGUMENT); /* unknown kind */
    CHECK_STATUS(
        cds_writer_add_reloc(w, word, CDS_RELOC_TYPE, CDS_RELOC_ARG_MAX + 1),
        CDS_E_INVALID_ARGUMENT); /* argument too large */
    word[0] = &outside;
    CHECK_STATUS(cds_writer_add_reloc(w, word, CDS_RELOC_INTERNAL, 0),
                 CDS_E_INVALID_ARGUMENT); /* target outside the arena */
    word[0] = &word[1];
    CHECK_STATUS(cds_writer_add_reloc(w, word, CDS_RELOC_INTERNAL, 0), CDS_OK);
    CHECK_STATUS(cds_writer_add_dep(w, 0), CDS_E_INVALID_ARGUMENT); /* self */
    CHECK_STATUS(cds_writer_end_module(w, &outside), CDS_E_INVALID_ARGUMENT);
    CHECK_STATUS(cds_writer_end_module(w, word), CDS_OK);
    /* The same name again is refused; another is fine. */
    CHECK_STATUS(cds_writer_begin_module(w, &info, NULL), CDS_E_DUPLICATE);
    char path[600];
    snprintf(path, sizeof path, "%s/args.img", fixture_dir());
    CHECK_STATUS(cds_writer_finish(w, path, "fp", 2, NULL), CDS_OK);
    CHECK_STATUS(cds_writer_finish(w, path, "fp", 2, NULL),
                 CDS_E_INVALID_ARGUMENT); /* twice */
    CHECK(cds_writer_alloc(w, 8, 8) == NULL);
    cds_writer_destroy(w);
}

static void test_reloc_slots_belong_to_the_module(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    cds_module_info first = {.name = "first"}, second = {.name = "second"};
    CHECK_STATUS(cds_writer_begin_module(w, &first, NULL), CDS_OK);
    void **earlier = cds_writer_alloc(w, 8, 8);
    CHECK_STATUS(cds_writer_end_module(w, earlier), CDS_OK);
    CHECK_STATUS(cds_writer_begin_module(w, &second, NULL), CDS_OK);
    void **word = cds_writer_alloc(w, 8, 8);
    /* A slot of the module before is not this one's to fix. */
    CHECK_STATUS(cds_writer_add_reloc(w, earlier, CDS_RELOC_TYPE, 0),
                 CDS_E_INVALID_ARGUMENT);
    /* The same slot twice in one stream is refused when encoding; the
     * module can then be cancelled and built again. */
    CHECK_STATUS(cds_writer_add_reloc(w, word, CDS_RELOC_TYPE, 0), CDS_OK);
    CHECK_STATUS(cds_writer_add_reloc(w, word, CDS_RELOC_SINGLETON, 1), CDS_OK);
    CHECK_STATUS(cds_writer_end_module(w, word), CDS_E_INVALID_ARGUMENT);
    CHECK_STATUS(cds_writer_cancel_module(w), CDS_OK);
    CHECK_STATUS(cds_writer_begin_module(w, &second, NULL), CDS_OK);
    word = cds_writer_alloc(w, 8, 8);
    CHECK_STATUS(cds_writer_add_reloc(w, word, CDS_RELOC_TYPE, 0), CDS_OK);
    CHECK_STATUS(cds_writer_end_module(w, word), CDS_OK);
    cds_writer_destroy(w);
}

static void test_duplicates_detected_across_many_modules(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    for (uint32_t m = 0; m < 300; m++) {
        char name[32];
        fixture_module_name(m, name, sizeof name);
        cds_module_info info = {.name = name};
        CHECK_STATUS(cds_writer_begin_module(w, &info, NULL), CDS_OK);
        CHECK_STATUS(cds_writer_end_module(w, cds_writer_alloc(w, 8, 8)),
                     CDS_OK);
    }
    for (uint32_t m = 0; m < 300; m += 7) {
        char name[32];
        fixture_module_name(m, name, sizeof name);
        cds_module_info info = {.name = name};
        CHECK_STATUS(cds_writer_begin_module(w, &info, NULL), CDS_E_DUPLICATE);
    }
    cds_writer_destroy(w);
}

static void test_cancel_forgets_the_module(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    cds_module_info a = {.name = "a"}, b = {.name = "b", .origin = "/b.py"};
    CHECK_STATUS(cds_writer_begin_module(w, &a, NULL), CDS_OK);
    void **root = cds_writer_alloc(w, 8, 8);
    CHECK_STATUS(cds_writer_end_module(w, root), CDS_OK);
    uint64_t used = cds_writer_object_size(w);

    uint32_t number;
    CHECK_STATUS(cds_writer_begin_module(w, &b, &number), CDS_OK);
    void **junk = cds_writer_alloc(w, 64, 8);
    junk[0] = root;
    CHECK_STATUS(cds_writer_add_reloc(w, junk, CDS_RELOC_INTERNAL, 0), CDS_OK);
    CHECK_STATUS(cds_writer_add_dep(w, 0), CDS_OK);
    CHECK_STATUS(cds_writer_cancel_module(w), CDS_OK);
    CHECK_EQ_INT(cds_writer_object_size(w), used);
    CHECK_STATUS(cds_writer_cancel_module(w), CDS_E_INVALID_ARGUMENT);

    /* The name is free again and reused space is zeroed. */
    CHECK_STATUS(cds_writer_begin_module(w, &b, &number), CDS_OK);
    CHECK_EQ_INT(number, 1);
    void **again = cds_writer_alloc(w, 64, 8);
    CHECK(again == junk && again[0] == NULL);
    CHECK_STATUS(cds_writer_end_module(w, again), CDS_OK);

    cds_archive *arch = finish_and_open(w, "cancel.img");
    if (!arch)
        return;
    const cds_module_record *r = cds_archive_module(arch, 1);
    CHECK(r && r->reloc_count == 0 && r->deps_count == 0);
    size_t size;
    const char *origin = cds_archive_string(arch, r->origin, &size);
    CHECK(size == 5 && memcmp(origin, "/b.py", 5) == 0);
    cds_archive_close(arch);
}

/* A name is bytes and a size: one holding a NUL is its own module, found
 * by its whole key, beside the name it starts with. */
static void test_names_may_hold_a_nul(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    static const char key[] = "m\0unit";
    cds_module_info plain = {.name = "m"},
                    keyed = {.name = key, .name_size = sizeof key - 1},
                    empty = {.name = key, .name_size = 0};
    uint32_t number;
    CHECK_STATUS(cds_writer_begin_module(w, &plain, &number), CDS_OK);
    CHECK_STATUS(cds_writer_end_module(w, cds_writer_alloc(w, 8, 8)), CDS_OK);
    /* Size 0 means up to the NUL: "m" again. */
    CHECK_STATUS(cds_writer_begin_module(w, &empty, NULL), CDS_E_DUPLICATE);
    CHECK_STATUS(cds_writer_begin_module(w, &keyed, &number), CDS_OK);
    CHECK_EQ_INT(number, 1);
    CHECK_STATUS(cds_writer_end_module(w, cds_writer_alloc(w, 8, 8)), CDS_OK);
    CHECK_STATUS(cds_writer_begin_module(w, &keyed, NULL), CDS_E_DUPLICATE);
    cds_archive *a = finish_and_open(w, "nul.img");
    if (!a)
        return;
    CHECK_STATUS(cds_archive_find(a, "m", 1, &number), CDS_OK);
    CHECK_EQ_INT(number, 0);
    CHECK_STATUS(cds_archive_find(a, key, sizeof key - 1, &number), CDS_OK);
    CHECK_EQ_INT(number, 1);
    CHECK_STATUS(cds_archive_find(a, key, 2, &number), CDS_E_NOT_FOUND);
    size_t size;
    const char *name =
        cds_archive_string(a, cds_archive_module(a, 1)->name, &size);
    CHECK(size == sizeof key - 1 && memcmp(name, key, size) == 0);
    cds_archive_close(a);
}

static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_finish_replaces_atomically(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/atomic.img", fixture_dir());
    fixture_options small = {.modules = 2}, large = {.modules = 40};
    CHECK_STATUS(fixture_write(path, &small), CDS_OK);
    CHECK_STATUS(fixture_write(path, &large), CDS_OK);
    CHECK_EQ_INT(count_temp_files(fixture_dir()), 0);
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, CDS_OPEN_VERIFY_ALL,
                                  NULL),
                 CDS_OK);
    if (a)
        CHECK_EQ_INT(cds_archive_module_count(a), 40);
    cds_archive_close(a);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0022) == 0);

    /* A directory that does not exist: an error, and nothing left behind. */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.img", fixture_dir());
    cds_writer *w = new_writer(0);
    cds_diag diag;
    CHECK_STATUS(cds_writer_finish(w, missing, NULL, 0, &diag), CDS_E_IO);
    CHECK(strstr(diag.message, "No such file") != NULL);
    /* Renaming over a directory fails after the temp file was written. */
    char dir_target[700];
    snprintf(dir_target, sizeof dir_target, "%s/target", fixture_dir());
    CHECK(mkdir(dir_target, 0755) == 0);
    CHECK_STATUS(cds_writer_finish(w, dir_target, NULL, 0, &diag), CDS_E_IO);
    CHECK(strstr(diag.message, "rename") != NULL);
    CHECK_EQ_INT(count_temp_files(fixture_dir()), 0);
    /* The fingerprint has a limit. */
    static const char long_fp[CDS_FINGERPRINT_MAX + 1];
    CHECK_STATUS(cds_writer_finish(w, path, long_fp, sizeof long_fp, NULL),
                 CDS_E_INVALID_ARGUMENT);
    cds_writer_destroy(w);
}

static void test_dependencies_are_transitively_closed(void)
{
    cds_writer *w = new_writer(0);
    if (!w)
        return;
    const char *names[] = {"m0", "m1", "m2", "m3"};
    for (uint32_t m = 0; m < 4; m++) {
        cds_module_info info = {.name = names[m]};
        CHECK_STATUS(cds_writer_begin_module(w, &info, NULL), CDS_OK);
        if (m == 1 || m == 2)
            CHECK_STATUS(cds_writer_add_dep(w, m - 1), CDS_OK); /* 2->1->0 */
        if (m == 3) {
            CHECK_STATUS(cds_writer_add_dep(w, 2), CDS_OK);
            CHECK_STATUS(cds_writer_add_dep(w, 0), CDS_OK); /* listed already */
        }
        CHECK_STATUS(cds_writer_end_module(w, cds_writer_alloc(w, 8, 8)),
                     CDS_OK);
    }
    cds_archive *a = finish_and_open(w, "deps.img");
    if (!a)
        return;
    const uint32_t expected[] = {0, 1, 2, 3};
    for (uint32_t m = 0; m < 4; m++)
        CHECK_EQ_INT(cds_archive_module(a, m)->deps_count, expected[m]);
    /* Preparing module 3 relocates 0, 1 and 2 with it. */
    fixture_runtime rt;
    fixture_runtime_init(&rt);
    CHECK_STATUS(cds_archive_prepare_module(a, 3, &rt.symbols), CDS_OK);
    for (uint32_t m = 0; m < 4; m++)
        CHECK(cds_archive_module_ready(a, m));
    cds_archive_close(a);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_alloc_alignment_zeroing_and_limit),
           TEST(test_module_argument_checks),
           TEST(test_reloc_slots_belong_to_the_module),
           TEST(test_duplicates_detected_across_many_modules),
           TEST(test_cancel_forgets_the_module),
           TEST(test_names_may_hold_a_nul),
           TEST(test_finish_replaces_atomically),
           TEST(test_dependencies_are_transitively_closed), TEST(cleanup))
