/*
 * fixture.c - sample archives for the C tests and benchmarks.
 */
#define _GNU_SOURCE /* nftw */
#include "fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fixture_module_name(uint32_t m, char *buffer, size_t size)
{
    snprintf(buffer, size, "pkg.mod%u", m);
}

static cds_status add_module(cds_writer *w, uint32_t m, fixture_node **first,
                             const fixture_options *o)
{
    char name[64], origin[96];
    fixture_module_name(m, name, sizeof name);
    snprintf(origin, sizeof origin, "/src/pkg/mod%u.py", m);
    cds_module_info info = {
        .name = name,
        .origin = origin,
        .cached = "",
        .extra = "x",
        .extra_size = 1,
        .flags = m % 2 ? CDS_MODULE_PACKAGE : 0,
        .source_mtime_ns = 1000 + m,
        .source_size = 10 * m,
        .source_hash = 0xabcdef00u + m,
    };
    uint32_t number;
    cds_status s = cds_writer_begin_module(w, &info, &number);
    if (s != CDS_OK)
        return s;
    fixture_node *node = cds_writer_alloc(w, sizeof *node, 8);
    if (!node)
        return CDS_E_FULL;
    node->self = node;
    node->name = node->text;
    node->first = *first;
    node->number = m;
    snprintf(node->text, sizeof node->text, "module %u", m);
    if ((s = cds_writer_add_reloc(w, &node->type, CDS_RELOC_TYPE,
                                  m % FIXTURE_TYPE_COUNT)) ||
        (s = cds_writer_add_reloc(w, &node->self, CDS_RELOC_INTERNAL, 0)) ||
        (s = cds_writer_add_reloc(w, &node->singleton, CDS_RELOC_SINGLETON,
                                  m % FIXTURE_SINGLETON_COUNT)) ||
        (s = cds_writer_add_reloc(w, &node->name, CDS_RELOC_INTERN, 0)))
        return s;
    if (*first &&
        ((s = cds_writer_add_reloc(w, &node->first, CDS_RELOC_INTERNAL, 0)) ||
         (s = cds_writer_add_dep(w, 0))))
        return s;
    if (o->payload || o->extra_relocs) {
        size_t words =
            o->extra_relocs > o->payload / 8 ? o->extra_relocs : o->payload / 8;
        void **payload = cds_writer_alloc(w, words * 8, 8);
        if (!payload)
            return CDS_E_FULL;
        for (uint32_t i = 0; i < o->extra_relocs; i++)
            if ((s = cds_writer_add_reloc(w, &payload[i], CDS_RELOC_TYPE,
                                          i % FIXTURE_TYPE_COUNT)))
                return s;
    }
    if (!*first)
        *first = node;
    return cds_writer_end_module(w, node);
}

cds_status fixture_write(const char *path, const fixture_options *o)
{
    cds_writer_options wo = {.base_address = o->base_address,
                             .max_object_size = 0};
    cds_writer *w;
    cds_status s = cds_writer_create(&w, &wo, NULL);
    if (s != CDS_OK)
        return s;
    fixture_node *first = NULL;
    for (uint32_t m = 0; s == CDS_OK && m < o->modules; m++)
        s = add_module(w, m, &first, o);
    if (s == CDS_OK)
        s = cds_writer_set_user(w, "user-data", 9);
    if (s == CDS_OK)
        s = cds_writer_finish(w, path, FIXTURE_FINGERPRINT,
                              FIXTURE_FINGERPRINT_SIZE, NULL);
    cds_writer_destroy(w);
    return s;
}

cds_archive *fixture_open(const char *path, const fixture_options *options,
                          unsigned flags)
{
    cds_status status = fixture_write(path, options);
    if (status != CDS_OK) {
        fprintf(stderr, "fixture_open: writing %s: %s\n", path,
                cds_strerror(status));
        return NULL;
    }
    cds_archive *a = NULL;
    cds_diag diag = {0};
    status = cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                              FIXTURE_FINGERPRINT_SIZE, flags, &diag);
    if (status != CDS_OK) {
        fprintf(stderr, "fixture_open: opening %s: %s\n", path, diag.message);
        return NULL;
    }
    return a;
}

static char dir_path[256];

const char *fixture_dir(void)
{
    if (!dir_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir_path, sizeof dir_path, "%s/cds-test-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir_path)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir_path;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void fixture_cleanup(void)
{
    if (dir_path[0])
        nftw(dir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    dir_path[0] = 0;
}

static int count_intern(void *context, void **const *slots, size_t count)
{
    (void)slots;
    ((fixture_runtime *)context)->interned += count;
    return 0;
}

void fixture_runtime_init(fixture_runtime *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < FIXTURE_TYPE_COUNT; i++)
        r->types[i] = &r->storage[i];
    for (int i = 0; i < FIXTURE_SINGLETON_COUNT; i++)
        r->singletons[i] = &r->storage[FIXTURE_TYPE_COUNT + i];
    r->symbols = (cds_symbols){
        .types = r->types,
        .type_count = FIXTURE_TYPE_COUNT,
        .singletons = r->singletons,
        .singleton_count = FIXTURE_SINGLETON_COUNT,
        .intern = count_intern,
        .context = r,
    };
}

int fixture_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in && out;
    char buffer[65536];
    size_t n;
    while (ok && (n = fread(buffer, 1, sizeof buffer, in)) > 0)
        ok = fwrite(buffer, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int fixture_truncate(const char *path, uint64_t size)
{
    return truncate(path, (off_t)size);
}

int fixture_flip_byte(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;
    int ok = fd >= 0 && pread(fd, &byte, 1, (off_t)offset) == 1;
    byte ^= 0x5a;
    ok = ok && pwrite(fd, &byte, 1, (off_t)offset) == 1;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

int fixture_read_header(const char *path, cds_header *header)
{
    int fd = open(path, O_RDONLY);
    int ok = fd >= 0 &&
             pread(fd, header, sizeof *header, 0) == (ssize_t)sizeof *header;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

int fixture_write_header(const char *path, const cds_header *header)
{
    int fd = open(path, O_WRONLY);
    int ok = fd >= 0 &&
             pwrite(fd, header, sizeof *header, 0) == (ssize_t)sizeof *header;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

uint64_t fixture_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}
