/*
 * fuzz_archive.c - libFuzzer target over everything libcds reads from a file:
 * header and section table, checksums, the module index, module records,
 * strings, dependencies and relocations.
 *
 * Each input is written to a file and opened as an archive (with and
 * without the object checksum); when it opens, every module is looked up by
 * its own name and by a few others, its strings read, and its relocations
 * applied with stand-in runtime addresses.  Inputs whose checksums are wrong
 * stop early, so the seed corpus holds real archives and the mutator's
 * work is to keep them barely valid; the harness also recomputes checksums
 * for one variant of each input so that the parsers behind them are reached.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cds/cds.h"

static char path[64];

static int ignore_intern(void *context, void **const *slots, size_t count)
{
    (void)context, (void)count;
    (void)slots; /* the slots may hold anything: never dereference them */
    return 0;
}

static void exercise(cds_archive *a)
{
    static char storage[8];
    static void *types[4] = {&storage[0], &storage[1], &storage[2],
                             &storage[3]};
    static void *singletons[2] = {&storage[4], &storage[5]};
    cds_symbols symbols = {types, 4, singletons, 2, ignore_intern, NULL};
    size_t size;
    cds_archive_user(a, &size);
    uint32_t count = cds_archive_module_count(a);
    for (uint32_t m = 0; m < count && m < 4096; m++) {
        const cds_module_record *r = cds_archive_module(a, m);
        if (!r)
            continue;
        const char *name = cds_archive_string(a, r->name, &size);
        uint32_t found;
        cds_archive_find(a, name, size, &found);
        cds_archive_string(a, r->origin, &size);
        cds_archive_string(a, r->extra, &size);
        cds_archive_at(a, r->root);
        cds_archive_prepare_module(a, m, &symbols);
    }
    uint32_t found;
    cds_archive_find(a, "os", 2, &found);
    cds_archive_find(a, "", 0, &found);
    for (uint32_t m = 0; m < count && m < 64; m++)
        cds_archive_apply_relocs(a, m, &symbols);
}

static void open_and_exercise(const uint8_t *data, size_t size, unsigned flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    cds_archive *a = NULL;
    cds_diag diag;
    int opened = cds_archive_open(&a, path, NULL, 0,
                                  flags | CDS_OPEN_ANY_FINGERPRINT, &diag);
    unlink(path); /* the archive is mapped: the name is no longer needed, and
                   * a fuzzing run leaves nothing behind in /tmp */
    if (opened == CDS_OK) {
        exercise(a);
        cds_archive_close(a);
    } else if (a || !diag.message[0] || strlen(diag.message) >= CDS_DIAG_SIZE) {
        abort(); /* a refusal must say why, and give nothing back */
    }
}

/* The input with every checksum made right, so that mutations of the
 * contents reach the parsers rather than stopping at the checksums. */
static void with_fixed_checksums(const uint8_t *data, size_t size)
{
    if (size < sizeof(cds_header))
        return;
    uint8_t *copy = malloc(size);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    cds_header h;
    memcpy(&h, copy, sizeof h);
    uint32_t sections =
        h.section_count < CDS_SECTION_MAX ? h.section_count : CDS_SECTION_MAX;
    /* Module checksums first (the modules section's own checksum covers
     * them), for records whose ranges lie inside the input. */
    const cds_section_entry *mods = sections >= CDS_SECTION_MODULES
                                        ? &h.sections[CDS_SECTION_MODULES - 1]
                                        : NULL;
    const cds_section_entry *rel = sections >= CDS_SECTION_RELOCS
                                       ? &h.sections[CDS_SECTION_RELOCS - 1]
                                       : NULL;
    if (mods && rel && mods->offset <= size &&
        mods->size <= size - mods->offset && rel->offset <= size &&
        rel->size <= size - rel->offset) {
        for (uint64_t at = mods->offset;
             at + sizeof(cds_module_record) <= mods->offset + mods->size;
             at += sizeof(cds_module_record)) {
            cds_module_record r;
            memcpy(&r, copy + at, sizeof r);
            uint64_t relocs_size = cds_module_relocs_size(&r);
            if (r.objects_begin > r.objects_end || r.objects_end > size ||
                r.relocs_offset > rel->size ||
                relocs_size > rel->size - r.relocs_offset)
                continue;
            uint64_t relocs_at = rel->offset + r.relocs_offset;
            if (relocs_at > size || relocs_size > size - relocs_at)
                continue;
            r.checksum =
                cds_module_checksum(copy + r.objects_begin,
                                    (size_t)(r.objects_end - r.objects_begin),
                                    copy + relocs_at, (size_t)relocs_size);
            memcpy(copy + at, &r, sizeof r);
        }
    }
    for (uint32_t i = 0; i < sections; i++) {
        cds_section_entry *s = &h.sections[i];
        if (s->offset <= size && s->size <= size - s->offset)
            s->checksum = cds_hash(copy + s->offset, (size_t)s->size);
    }
    h.file_size = size;
    h.header_checksum = cds_header_checksum(&h);
    memcpy(copy, &h, sizeof h);
    open_and_exercise(copy, size, 0);
    open_and_exercise(copy, size, CDS_OPEN_VERIFY_ALL);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/cds-fuzz-%ld.img", (long)getpid());
    open_and_exercise(data, size, 0);
    with_fixed_checksums(data, size);
    return 0;
}
