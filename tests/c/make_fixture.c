/*
 * make_fixture.c - sample archives for the shell tests.
 *
 *   make_fixture PATH [MODULES]   write a sample archive (12 modules)
 *   make_fixture --sections PATH  print "name offset size" per section
 *   make_fixture --unit PATH      a module "pkg.mod" and its pycds unit
 *                                 record (layout.h) of 5 bytes
 *
 * Exits 0 on success, 1 on failure, 2 for usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "layout.h"

static int usage(void)
{
    fputs("usage: make_fixture PATH [MODULES]\n"
          "       make_fixture --sections PATH\n"
          "       make_fixture --unit PATH\n",
          stderr);
    return 2;
}

static int print_sections(const char *path)
{
    cds_header h;
    if (fixture_read_header(path, &h) != 0) {
        fprintf(stderr, "make_fixture: %s: cannot read a header\n", path);
        return 1;
    }
    uint32_t count = h.section_count;
    if (count > CDS_SECTION_MAX)
        count = CDS_SECTION_MAX;
    for (uint32_t i = 0; i < count; i++)
        printf("%s %llu %llu\n", cds_section_name(h.sections[i].kind),
               (unsigned long long)h.sections[i].offset,
               (unsigned long long)h.sections[i].size);
    return 0;
}

static int write_archive(const char *path, const char *modules)
{
    fixture_options o = {.modules = 12};
    if (modules) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(modules, &end, 10);
        if (errno || end == modules || *end || n > 100000)
            return usage();
        o.modules = (uint32_t)n;
    }
    cds_status s = fixture_write(path, &o);
    if (s != CDS_OK) {
        fprintf(stderr, "make_fixture: %s: %s\n", path, cds_strerror(s));
        return 1;
    }
    return 0;
}

/* A module and its unit record, as pycds's dumper writes them: the unit is
 * named after its module with PYCDS_UNIT_SUFFIX and holds its bytes in
 * extra, with an empty placeholder as its root. */
static int write_unit_archive(const char *path)
{
    static const char key[] = "pkg.mod" PYCDS_UNIT_SUFFIX;
    cds_writer_options wo = {0};
    cds_writer *w;
    cds_status s = cds_writer_create(&w, &wo, NULL);
    if (s != CDS_OK)
        goto done;
    const cds_module_info infos[] = {
        {.name = "pkg.mod", .origin = "/src/pkg/mod.py"},
        {.name = key,
         .name_size = sizeof key - 1,
         .origin = "/src/pkg/mod.py",
         .extra = "u\0n\0t",
         .extra_size = 5,
         .flags = PYCDS_MODULE_UNIT | PYCDS_MODULE_UNIT_STARTS},
    };
    for (size_t i = 0; s == CDS_OK && i < sizeof infos / sizeof *infos; i++) {
        s = cds_writer_begin_module(w, &infos[i], NULL);
        void *root = s == CDS_OK ? cds_writer_alloc(w, 8, 8) : NULL;
        if (s == CDS_OK)
            s = root ? cds_writer_end_module(w, root) : CDS_E_FULL;
    }
    if (s == CDS_OK)
        s = cds_writer_finish(w, path, FIXTURE_FINGERPRINT,
                              FIXTURE_FINGERPRINT_SIZE, NULL);
    cds_writer_destroy(w);
done:
    if (s != CDS_OK)
        fprintf(stderr, "make_fixture: %s: %s\n", path, cds_strerror(s));
    return s == CDS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--sections") == 0)
        return print_sections(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--unit") == 0)
        return write_unit_archive(argv[2]);
    if (argc == 2 || argc == 3)
        return write_archive(argv[1], argc == 3 ? argv[2] : NULL);
    return usage();
}
