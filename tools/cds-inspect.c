/*
 * cds-inspect.c - show what a pycds archive holds and what is wrong with it,
 * without Python.
 *
 *   cds-inspect [--modules|--no-modules]
 *               [--verify-objects|--no-verify-objects] ARCHIVE
 *
 * Prints the header, the fingerprint, the section table with each section's
 * stored and computed checksum, and the module list.  The checksums are
 * computed here from bytes read with pread, not by cds_archive_open, so that
 * every section is reported even when one is damaged.  The module list comes
 * from cds_archive_open, once the header and the metadata are known good;
 * a pycds unit record is listed under its module's name (its key's NUL and
 * "unit" left out), flagged unit, with the size of its unit.
 *
 * The first problem found is printed as one line on stderr,
 * "cds-inspect: ARCHIVE: <reason>", after as much of the rest as can be read
 * safely.  Exit status: 0 when everything checked is ok, 1 when anything is
 * wrong, 2 for usage errors.
 *
 * Nothing read from the file is trusted: offsets and sizes are checked
 * against the file's real size before anything is read, and no buffer is
 * larger than HASH_LIMIT.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cds/cds.h"

/* pycds's record flags (plain C, no Python): a unit is shown as one. */
#include "layout.h"

/* The largest section checksummed: cds_hash takes one buffer, so a section
 * is read whole into memory.  Larger ones are reported as unchecked. */
#define HASH_LIMIT (UINT64_C(1) << 30)

/* Module names longer than this push the columns after them right. */
#define NAME_COLUMN_MAX 40

typedef struct options {
    bool modules;
    bool verify_objects;
    const char *path;
} options;

typedef struct inspection {
    const char *path;
    int fd;
    uint64_t file_size; /* the real size, from fstat */
    cds_header header;
    bool header_ok;   /* cds_header_read accepted the header */
    bool metadata_ok; /* every metadata section's checksum matches */
    bool failed;
    char problem[CDS_DIAG_SIZE]; /* the first problem found */
} inspection;

typedef enum verdict {
    VERDICT_OK,
    VERDICT_BAD,        /* checksum mismatch */
    VERDICT_OUTSIDE,    /* not inside the file */
    VERDICT_TOO_LARGE,  /* over HASH_LIMIT */
    VERDICT_UNREADABLE, /* read error or no memory */
    VERDICT_SKIPPED,    /* objects, with --no-verify-objects */
} verdict;

static const char *const verdict_names[] = {
    [VERDICT_OK] = "ok",
    [VERDICT_BAD] = "BAD",
    [VERDICT_OUTSIDE] = "BAD (beyond end of file)",
    [VERDICT_TOO_LARGE] = "unchecked (too large)",
    [VERDICT_UNREADABLE] = "unchecked (unreadable)",
    [VERDICT_SKIPPED] = "skipped",
};

/* Record a problem; only the first one is reported on stderr. */
static void fail(inspection *in, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(inspection *in, const char *format, ...)
{
    if (in->failed)
        return;
    in->failed = true;
    va_list args;
    va_start(args, format);
    vsnprintf(in->problem, sizeof in->problem, format, args);
    va_end(args);
}

/* ------------------------------------------------------------ arguments */

static void usage(FILE *out)
{
    fputs("usage: cds-inspect [--modules|--no-modules]\n"
          "                   [--verify-objects|--no-verify-objects] "
          "ARCHIVE\n",
          out);
}

enum { ARGS_OK, ARGS_HELP, ARGS_USAGE };

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.modules = true, .verify_objects = true};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        } else if (strcmp(arg, "--modules") == 0) {
            o->modules = true;
        } else if (strcmp(arg, "--no-modules") == 0) {
            o->modules = false;
        } else if (strcmp(arg, "--verify-objects") == 0) {
            o->verify_objects = true;
        } else if (strcmp(arg, "--no-verify-objects") == 0) {
            o->verify_objects = false;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return ARGS_HELP;
        } else {
            fprintf(stderr, "cds-inspect: unknown option '%s'\n", arg);
            usage(stderr);
            return ARGS_USAGE;
        }
    }
    if (argc - i != 1) {
        usage(stderr);
        return ARGS_USAGE;
    }
    o->path = argv[i];
    return ARGS_OK;
}

/* ------------------------------------------------------------- printing */

/* The text for one byte: itself if printable, else an escape; "\\" and
 * "\"" are escaped too.  Returns its length. */
static size_t escape_byte(unsigned char c, char out[5])
{
    if (c == '\\' || c == '"')
        return (size_t)snprintf(out, 5, "\\%c", c);
    if (c >= 0x20 && c < 0x7f)
        return (size_t)snprintf(out, 5, "%c", c);
    return (size_t)snprintf(out, 5, "\\x%02x", c);
}

static size_t escaped_width(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    char text[5];
    size_t width = 0;
    for (size_t i = 0; i < size; i++)
        width += escape_byte(bytes[i], text);
    return width;
}

/* Print bytes that are usually text; returns the columns used. */
static size_t print_escaped(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    char text[5];
    size_t width = 0;
    for (size_t i = 0; i < size; i++) {
        width += escape_byte(bytes[i], text);
        fputs(text, stdout);
    }
    return width;
}

static void print_padding(size_t used, size_t width)
{
    for (; used < width; used++)
        putchar(' ');
}

/* ---------------------------------------------------------------- header */

static bool open_file(inspection *in)
{
    /* O_NONBLOCK: a FIFO must not hang us; cds_header_read refuses it. */
    in->fd = open(in->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in->fd < 0) {
        fail(in, "open: %s", strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(in->fd, &st) != 0) {
        fail(in, "fstat: %s", strerror(errno));
        return false;
    }
    in->file_size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    return true;
}

/* Whether cds_header_read got as far as copying the header out. */
static bool header_copied(cds_status status)
{
    return status != CDS_E_IO && status != CDS_E_NOT_REGULAR &&
           status != CDS_E_TOO_SMALL;
}

static bool read_header(inspection *in)
{
    cds_diag diag = {0};
    cds_status status = cds_header_read(in->fd, &in->header, &diag);
    in->header_ok = status == CDS_OK;
    if (status != CDS_OK)
        fail(in, "%s", diag.message);
    return header_copied(status);
}

/* Print magic and version; false when the rest of the header is in a layout
 * this tool does not know. */
static bool print_identity(const cds_header *h)
{
    if (memcmp(h->magic, CDS_MAGIC, CDS_MAGIC_SIZE) != 0) {
        printf("%-16s BAD \"", "magic");
        print_escaped(h->magic, CDS_MAGIC_SIZE);
        printf("\", not a pycds archive\n");
        return false;
    }
    printf("%-16s ok\n", "magic");
    if (h->format_version != CDS_FORMAT_VERSION ||
        h->header_size != sizeof(cds_header)) {
        printf("%-16s %u, header size %u (this tool reads %u, size %zu)\n",
               "format version", h->format_version, h->header_size,
               CDS_FORMAT_VERSION, sizeof(cds_header));
        return false;
    }
    printf("%-16s %u\n", "format version", h->format_version);
    return true;
}

static void print_fingerprint(const cds_header *h)
{
    uint32_t size = h->fingerprint_size;
    if (size > CDS_FINGERPRINT_MAX)
        size = CDS_FINGERPRINT_MAX;
    printf("%-16s \"", "fingerprint");
    print_escaped(h->fingerprint, size);
    printf("\" (%u bytes", h->fingerprint_size);
    if (size != h->fingerprint_size)
        printf(", over the maximum of %u", CDS_FINGERPRINT_MAX);
    printf(")\n");
}

static void print_header_fields(const inspection *in)
{
    const cds_header *h = &in->header;
    printf("%-16s %llu", "file size", (unsigned long long)h->file_size);
    if (h->file_size != in->file_size)
        printf(" (the file has %llu: %s)", (unsigned long long)in->file_size,
               in->file_size < h->file_size ? "truncated" : "extended");
    printf("\n%-16s 0x%llx\n", "base address",
           (unsigned long long)h->base_address);
    printf("%-16s %u\n", "module count", h->module_count);
    uint64_t computed = cds_header_checksum(h);
    printf("%-16s %016llx ", "header checksum",
           (unsigned long long)h->header_checksum);
    if (computed == h->header_checksum)
        printf("ok\n");
    else
        printf("BAD (computed %016llx)\n", (unsigned long long)computed);
    print_fingerprint(h);
}

/* Print the header; false when nothing after it can be interpreted. */
static bool print_header(const inspection *in)
{
    printf("%-16s %s\n", "archive", in->path);
    if (!print_identity(&in->header))
        return false;
    print_header_fields(in);
    return true;
}

/* -------------------------------------------------------------- sections */

/* Read exactly size bytes at offset; false with errno set (0: file shrank). */
static bool read_at(int fd, void *buffer, size_t size, uint64_t offset)
{
    unsigned char *p = buffer;
    while (size > 0) {
        ssize_t n = pread(fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return false;
        }
        p += n;
        size -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

static verdict hash_section(inspection *in, const cds_section_entry *s,
                            uint64_t *computed)
{
    const char *name = cds_section_name(s->kind);
    if (s->offset > in->file_size || s->size > in->file_size - s->offset) {
        fail(in, "%s section [%llu, +%llu) beyond end of file %llu", name,
             (unsigned long long)s->offset, (unsigned long long)s->size,
             (unsigned long long)in->file_size);
        return VERDICT_OUTSIDE;
    }
    if (s->size > HASH_LIMIT) {
        fail(in, "%s section is %llu bytes, over the %llu cds-inspect checks",
             name, (unsigned long long)s->size, (unsigned long long)HASH_LIMIT);
        return VERDICT_TOO_LARGE;
    }
    unsigned char *buffer = malloc(s->size ? (size_t)s->size : 1);
    if (!buffer) {
        fail(in, "%s section: no memory for %llu bytes", name,
             (unsigned long long)s->size);
        return VERDICT_UNREADABLE;
    }
    bool read = read_at(in->fd, buffer, (size_t)s->size, s->offset);
    if (read)
        *computed = cds_hash(buffer, (size_t)s->size);
    else
        fail(in, "read %s section: %s", name,
             errno ? strerror(errno) : "file shrank while read");
    free(buffer);
    if (!read)
        return VERDICT_UNREADABLE;
    if (*computed != s->checksum) {
        fail(in, "%s section checksum %016llx, computed %016llx", name,
             (unsigned long long)s->checksum, (unsigned long long)*computed);
        return VERDICT_BAD;
    }
    return VERDICT_OK;
}

static void print_section(const cds_section_entry *s, verdict v,
                          uint64_t computed)
{
    char kind[24];
    if (s->kind >= 1 && s->kind <= CDS_SECTION_KIND_COUNT)
        snprintf(kind, sizeof kind, "%s", cds_section_name(s->kind));
    else
        snprintf(kind, sizeof kind, "kind %u", s->kind);
    char hash[24] = "-";
    if (v == VERDICT_OK || v == VERDICT_BAD)
        snprintf(hash, sizeof hash, "%016llx", (unsigned long long)computed);
    printf("  %-10s %12llu %12llu  %016llx  %-16s  %s\n", kind,
           (unsigned long long)s->offset, (unsigned long long)s->size,
           (unsigned long long)s->checksum, hash, verdict_names[v]);
}

static void check_sections(inspection *in, const options *o)
{
    const cds_header *h = &in->header;
    uint32_t count = h->section_count;
    printf("\nsections: %u", count);
    if (count > CDS_SECTION_MAX) {
        printf(" (only %u fit in a header)", CDS_SECTION_MAX);
        count = CDS_SECTION_MAX;
    }
    printf("\n  %-10s %12s %12s  %-16s  %-16s  %s\n", "name", "offset", "size",
           "checksum", "computed", "verdict");
    in->metadata_ok = in->header_ok;
    for (uint32_t i = 0; i < count; i++) {
        const cds_section_entry *s = &h->sections[i];
        bool objects = s->kind == CDS_SECTION_OBJECTS;
        uint64_t computed = 0;
        verdict v = objects && !o->verify_objects
                        ? VERDICT_SKIPPED
                        : hash_section(in, s, &computed);
        if (!objects && v != VERDICT_OK)
            in->metadata_ok = false;
        print_section(s, v, computed);
    }
}

/* --------------------------------------------------------------- modules */

/* A record's name as shown: a unit's without the NUL and "unit" its key
 * adds to its module's name (its flags say it is a unit). */
static const char *shown_name(const cds_archive *a, const cds_module_record *r,
                              size_t *size)
{
    const char *name = cds_archive_string(a, r->name, size);
    if ((r->flags & PYCDS_MODULE_UNIT) && *size > PYCDS_UNIT_SUFFIX_SIZE &&
        memcmp(name + *size - PYCDS_UNIT_SUFFIX_SIZE, PYCDS_UNIT_SUFFIX,
               PYCDS_UNIT_SUFFIX_SIZE) == 0)
        *size -= PYCDS_UNIT_SUFFIX_SIZE;
    return name;
}

static size_t name_column(const cds_archive *a, uint32_t count)
{
    size_t width = strlen("name");
    for (uint32_t m = 0; m < count && width < NAME_COLUMN_MAX; m++) {
        const cds_module_record *r = cds_archive_module(a, m);
        if (!r)
            continue;
        size_t size;
        const char *name = shown_name(a, r, &size);
        size_t w = escaped_width(name, size);
        if (w > width)
            width = w;
    }
    return width < NAME_COLUMN_MAX ? width : NAME_COLUMN_MAX;
}

/* "-", or the known flags by name and the others in hex, joined by '+'. */
static void format_flags(uint32_t flags, char *out, size_t size)
{
    uint32_t other = flags & ~(CDS_MODULE_PACKAGE | PYCDS_MODULE_UNIT |
                               PYCDS_MODULE_UNIT_STARTS);
    if (flags == 0) {
        snprintf(out, size, "-");
        return;
    }
    char hex[16] = "";
    if (other)
        snprintf(hex, sizeof hex, "0x%x", other);
    const char *parts[] = {flags & CDS_MODULE_PACKAGE ? "package" : "",
                           flags & PYCDS_MODULE_UNIT ? "unit" : "",
                           flags & PYCDS_MODULE_UNIT_STARTS ? "starts" : "",
                           hex};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        if (!parts[i][0] || used >= size)
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "+" : "",
                         parts[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

static void print_module(inspection *in, cds_archive *a, uint32_t m,
                         size_t width)
{
    const cds_module_record *r = cds_archive_module(a, m);
    printf("  %6u  ", m);
    if (!r) {
        printf("(record out of range)\n");
        fail(in, "module %u: record out of range", m);
        return;
    }
    size_t size;
    const char *text = shown_name(a, r, &size);
    print_padding(print_escaped(text, size), width);
    char flags[32];
    format_flags(r->flags, flags, sizeof flags);
    /* The module's own checksum over its objects and relocations. */
    const char *check = "-";
    if (r->objects_end > r->objects_begin) {
        cds_status s;
        cds_archive_file_bytes(
            a, (char *)cds_archive_base(a) + r->objects_begin, 1, &s);
        check = s == CDS_OK ? "ok" : "BAD";
        if (s != CDS_OK)
            fail(in, "module %u: %s", m, cds_strerror(s));
    }
    printf("  %-9s %#12llx %#12llx %10llu %7u %5u  %-5s ", flags,
           (unsigned long long)r->objects_begin,
           (unsigned long long)r->objects_end,
           (unsigned long long)(r->objects_end - r->objects_begin),
           r->reloc_count, r->deps_count, check);
    text = cds_archive_string(a, r->origin, &size);
    print_escaped(text, size);
    if (r->flags & PYCDS_MODULE_UNIT) {
        cds_archive_string(a, r->extra, &size);
        printf("%s(unit of %zu bytes)", r->origin.size ? " " : "", size);
    }
    putchar('\n');
}

static void list_modules(inspection *in, const options *o)
{
    if (!o->modules)
        return;
    if (!in->header_ok || !in->metadata_ok) {
        printf("\nmodules: not listed, the header or metadata is damaged\n");
        return;
    }
    cds_archive *a = NULL;
    cds_diag diag = {0};
    if (cds_archive_open(&a, in->path, NULL, 0,
                         CDS_OPEN_ANY_FINGERPRINT | CDS_OPEN_NO_POPULATE,
                         &diag) != CDS_OK) {
        fail(in, "%s", diag.message);
        printf("\nmodules: not listed, %s\n", diag.message);
        return;
    }
    uint32_t count = cds_archive_module_count(a);
    size_t width = name_column(a, count);
    printf("\nmodules: %u\n  %6s  %-*s  %-9s %12s %12s %10s %7s %5s  %-5s %s\n",
           count, "#", (int)width, "name", "flags", "begin", "end", "size",
           "relocs", "deps", "check", "origin");
    for (uint32_t m = 0; m < count; m++)
        print_module(in, a, m, width);
    cds_archive_close(a);
}

/* ------------------------------------------------------------------ main */

static void inspect(inspection *in, const options *o)
{
    if (!open_file(in) || !read_header(in) || !print_header(in))
        return;
    check_sections(in, o);
    list_modules(in, o);
}

int main(int argc, char **argv)
{
    options o;
    switch (parse_args(argc, argv, &o)) {
    case ARGS_HELP: return 0;
    case ARGS_USAGE: return 2;
    default: break;
    }
    inspection in = {.path = o.path, .fd = -1};
    inspect(&in, &o);
    if (in.fd >= 0)
        close(in.fd);
    if (fflush(stdout) != 0)
        fail(&in, "write to stdout: %s", strerror(errno));
    if (in.failed) {
        fprintf(stderr, "cds-inspect: %s: %s\n", in.path, in.problem);
        return 1;
    }
    return 0;
}
