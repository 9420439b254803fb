/*
 * cds/format.h - the on-disk layout of a pycds archive (format version 4).
 *
 * An archive is one file, meant to be mapped whole at a fixed address:
 *
 *   offset 0           header page (struct cds_header, zero padded to 4 KiB)
 *   CDS_OBJECTS_OFFSET object region: raw memory the writer built in place at
 *                      base_address + CDS_OBJECTS_OFFSET, page-rounded
 *   ...                metadata sections, each 8-byte aligned:
 *                      index, modules, deps, relocs, strings, user
 *
 * Checksums: the header and the small metadata sections (index, modules,
 * deps, strings, user) are checked when the archive is opened; each module's
 * objects and relocations are checked by the module's own checksum when it
 * is first used, so that the work is proportional to what is used.  The
 * object and relocation sections also have whole-section checksums, for
 * tools and for readers that want everything checked up front.
 *
 * All integers are little-endian (the only supported target is x86-64) and
 * every offset is relative to the start of the file, which is also the
 * preferred mapping address (base_address).  Nothing in this file knows what
 * the objects are: pycds stores Python objects there, libcds only moves,
 * checks and relocates bytes.
 */
#ifndef CDS_FORMAT_H
#define CDS_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "\x1a\r\n" after the name catches text-mode mangling and `cat`ed files,
 * as PNG's signature does. */
#define CDS_MAGIC "PYCDS\x1a\r\n"
#define CDS_MAGIC_SIZE 8
#define CDS_FORMAT_VERSION 4u

#define CDS_PAGE_SIZE 4096u
#define CDS_HEADER_PAGE_SIZE CDS_PAGE_SIZE
#define CDS_OBJECTS_OFFSET CDS_HEADER_PAGE_SIZE
#define CDS_FINGERPRINT_MAX 256u
#define CDS_SECTION_MAX 8u

/* Section kinds, in the order the writer lays them out. */
typedef enum cds_section_kind {
    CDS_SECTION_OBJECTS = 1, /* the object region */
    CDS_SECTION_INDEX = 2,   /* cds_index_header + cds_index_slot[] */
    CDS_SECTION_MODULES = 3, /* cds_module_record[] */
    CDS_SECTION_DEPS = 4,    /* uint32_t module numbers, ranges per module */
    CDS_SECTION_RELOCS = 5,  /* relocation streams, per module */
    CDS_SECTION_STRINGS = 6, /* bytes referenced by cds_string_ref */
    CDS_SECTION_USER = 7,    /* opaque bytes for the archive's creator */
} cds_section_kind;

#define CDS_SECTION_KIND_COUNT 7u

typedef struct cds_section_entry {
    uint32_t kind; /* cds_section_kind */
    uint32_t reserved;
    uint64_t offset;   /* from the start of the file */
    uint64_t size;     /* bytes */
    uint64_t checksum; /* XXH3_64bits of the section's bytes */
} cds_section_entry;

typedef struct cds_header {
    char magic[CDS_MAGIC_SIZE];
    uint32_t format_version;
    uint32_t header_size;     /* sizeof(cds_header) of the writer */
    uint64_t file_size;       /* the whole file; anything else is truncation */
    uint64_t base_address;    /* preferred address of file offset 0 */
    uint64_t header_checksum; /* XXH3_64bits of this struct, this field 0 */
    uint32_t fingerprint_size;
    uint32_t section_count;
    uint32_t module_count;
    uint32_t flags; /* reserved, 0 */
    uint8_t fingerprint[CDS_FINGERPRINT_MAX];
    cds_section_entry sections[CDS_SECTION_MAX];
} cds_header;

/* A byte string inside the strings section.  Not NUL-terminated on disk. */
typedef struct cds_string_ref {
    uint32_t offset; /* from the start of the strings section */
    uint32_t size;
} cds_string_ref;

/* Module flags: meaning is the creator's, except that libcds keeps them. */
#define CDS_MODULE_PACKAGE 0x1u

/*
 * One archived module.  Its objects occupy [objects_begin, objects_end) and
 * its relocations are the bytes [relocs_offset, relocs_offset + typed_size +
 * internal_size + intern_size) of the relocations section: three streams
 * back to back (see "Relocations" below).  Objects it shares with modules
 * archived earlier live in those modules' ranges; deps lists them
 * (transitively closed), so that fixing a module first fixes the ranges its
 * objects point into.
 */
typedef struct cds_module_record {
    cds_string_ref name;   /* dotted module name */
    cds_string_ref origin; /* source or .pyc path the module came from */
    cds_string_ref cached; /* .pyc path, or empty */
    cds_string_ref extra;  /* creator-defined bytes (e.g. search locations) */
    uint32_t flags;        /* CDS_MODULE_* */
    uint32_t reloc_count;  /* entries in the three streams, for tools */
    /* What the source looked like at dump time, for staleness checks. */
    int64_t source_mtime_ns;
    uint64_t source_size;
    uint64_t source_hash; /* XXH3_64bits of the source bytes, 0 if unknown */
    uint64_t root;        /* file offset of the root object (the code) */
    uint64_t objects_begin;
    uint64_t objects_end;
    uint64_t relocs_offset; /* from the start of the relocations section */
    uint32_t typed_size;    /* bytes of the type and singleton stream */
    uint32_t internal_size; /* bytes of the internal-pointer stream */
    uint32_t intern_size;   /* bytes of the interned-string stream */
    uint32_t reserved;      /* 0 */
    uint32_t deps_first;
    uint32_t deps_count;
    /* cds_module_checksum of the module's objects and relocation bytes as
     * written, checked before the module is first relocated. */
    uint64_t checksum;
} cds_module_record;

/* Bytes of a module's three relocation streams together. */
static inline uint64_t cds_module_relocs_size(const cds_module_record *r)
{
    return (uint64_t)r->typed_size + r->internal_size + r->intern_size;
}

/* Index: open addressing with linear probing, slot_count a power of two. */
typedef struct cds_index_header {
    uint32_t slot_count;
    uint32_t reserved;
} cds_index_header;

typedef struct cds_index_slot {
    uint64_t hash;   /* XXH3_64bits of the module name */
    uint32_t module; /* module number + 1; 0 marks an empty slot */
    uint32_t reserved;
} cds_index_slot;

/*
 * Relocations.  A slot is an aligned 8-byte word of a module's objects that
 * the reader must set for this process.  Each kind says how:
 */
typedef enum cds_reloc_kind {
    /* The slot holds an address inside the archive; add the mapping delta. */
    CDS_RELOC_INTERNAL = 1,
    /* The slot receives runtime type number `arg` (e.g. an ob_type). */
    CDS_RELOC_TYPE = 2,
    /* The slot receives runtime singleton number `arg` (e.g. None). */
    CDS_RELOC_SINGLETON = 3,
    /* The slot holds the address of an archived string that the runtime must
     * intern; the creator's callback may redirect the slot. */
    CDS_RELOC_INTERN = 4,
} cds_reloc_kind;

#define CDS_RELOC_ARG_MAX 0xFFFFFu
/* Largest object region: slot offsets fit 40 bits once divided by 8. */
#define CDS_RELOC_OFFSET_MAX ((UINT64_C(1) << 43) - 8)

/*
 * A module's relocations are three streams, stored back to back in the
 * order they are applied:
 *
 *   typed     CDS_RELOC_TYPE and CDS_RELOC_SINGLETON entries
 *   internal  CDS_RELOC_INTERNAL entries (skipped by a reader mapped at the
 *             preferred address, where they change nothing)
 *   intern    CDS_RELOC_INTERN entries (after the others: the runtime reads
 *             the strings when interning them)
 *
 * Each stream lists its slots in ascending order as gaps: the distance in
 * 8-byte words from the previous slot of the stream, or from the word before
 * objects_begin for the first (so that every gap is at least 1).  Numbers are
 * unsigned LEB128 varints (7 bits per byte, low first, high bit = more).
 * A typed entry is varint(gap << 1 | singleton) then varint(arg); an
 * internal or intern entry is varint(gap).  Objects sit next to each other,
 * so a typical entry takes one or two bytes, against eight for a raw slot
 * address.
 */
#define CDS_VARINT_MAX 10u /* bytes of the longest 64-bit varint */

/* Write `value` as a varint at out; returns the bytes written. */
static inline unsigned cds_varint_put(unsigned char *out, uint64_t value)
{
    unsigned n = 0;
    while (value >= 0x80) {
        out[n++] = (unsigned char)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (unsigned char)value;
    return n;
}

#ifdef __cplusplus
}
#endif

#endif /* CDS_FORMAT_H */
