/*
 * make_fixture.c - sample archives for the shell tests.
 *
 *   make_fixture PATH [MODULES]   write a sample archive (12 modules)
 *   make_fixture --sections PATH  print "name offset size" per section
 *
 * Exits 0 on success, 1 on failure, 2 for usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static int usage(void)
{
    fputs("usage: make_fixture PATH [MODULES]\n"
          "       make_fixture --sections PATH\n",
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

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--sections") == 0)
        return print_sections(argv[2]);
    if (argc == 2 || argc == 3)
        return write_archive(argv[1], argc == 3 ? argv[2] : NULL);
    return usage();
}
