/*
 * cds/cds.h - libcds, the pycds archive container.
 *
 * libcds writes, validates, maps and relocates archive files.  It knows
 * nothing about Python: its caller builds objects in the writer's arena,
 * records which words need fixing when the archive is loaded, and supplies
 * the runtime addresses (types, singletons) and an interning callback when a
 * module is prepared for use.  See cds/format.h for the file layout.
 *
 * Errors are returned as cds_status codes; cds_strerror() names them, and
 * functions that can fail for a file-specific reason also fill an optional
 * cds_diag with one line that says exactly what was wrong.  Nothing here
 * aborts, exits or trusts a byte of the file before checking it.
 *
 * Not thread-safe: one thread at a time per cds_writer / cds_archive (pycds
 * holds the GIL).
 */
#ifndef CDS_CDS_H
#define CDS_CDS_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cds_status {
    CDS_OK = 0,
    CDS_E_INVALID_ARGUMENT, /* caller error: bad parameter or state */
    CDS_E_NOMEM,            /* out of memory */
    CDS_E_IO,               /* a system call failed (errno in the diag) */
    CDS_E_NOT_REGULAR,      /* not a regular file */
    CDS_E_TOO_SMALL,        /* shorter than a header */
    CDS_E_MAGIC,            /* not a pycds archive */
    CDS_E_FORMAT_VERSION,   /* archive format this libcds cannot read */
    CDS_E_HEADER_CHECKSUM,  /* header bytes corrupted */
    CDS_E_SIZE,             /* file size differs from the header's: truncated
                               or extended */
    CDS_E_FINGERPRINT,      /* made by another build of the runtime */
    CDS_E_LAYOUT,           /* section table inconsistent */
    CDS_E_SECTION_CHECKSUM, /* a metadata section corrupted */
    CDS_E_OBJECTS_CHECKSUM, /* the object region corrupted */
    CDS_E_MODULE_CHECKSUM,  /* a module's objects or relocations corrupted */
    CDS_E_CORRUPT,          /* metadata out of range despite checksums */
    CDS_E_MAP,              /* the file could not be mapped */
    CDS_E_ADDRESS_IN_USE,   /* writer: the fixed address is taken */
    CDS_E_FULL,             /* writer: arena or table limit reached */
    CDS_E_NOT_FOUND,        /* lookup: no such module */
    CDS_E_DUPLICATE,        /* writer: module name added twice */
    CDS_E_STATUS_COUNT
} cds_status;

/* A one-line, human-readable name for a status; never NULL. */
const char *cds_strerror(cds_status status);

/* One line saying what exactly was wrong, for logs and tools. */
#define CDS_DIAG_SIZE 256
typedef struct cds_diag {
    cds_status status;
    char message[CDS_DIAG_SIZE];
} cds_diag;

/* XXH3_64bits, the checksum used everywhere in the format. */
uint64_t cds_hash(const void *data, size_t size);

/* A module record's checksum: its objects, then its relocations. */
uint64_t cds_module_checksum(const void *objects, size_t objects_size,
                             const void *relocs, size_t relocs_size);

/* ---------------------------------------------------------------- header */

/* The header checksum: XXH3 of the header with header_checksum taken as 0. */
uint64_t cds_header_checksum(const cds_header *header);

/* Name of a section kind ("objects", "index", ...) or "unknown". */
const char *cds_section_name(uint32_t kind);

/*
 * Read and check a header from an open file: size, magic, version, header
 * checksum, file size and section table (bounds, alignment, overlap).  Does
 * not look at fingerprints or section contents.  The header is copied into
 * *out even when a later check fails, if it could be read at all, so tools
 * can show it.
 */
cds_status cds_header_read(int fd, cds_header *out, cds_diag *diag);

/* The entry for a section kind, or NULL when the header has none. */
const cds_section_entry *cds_header_section(const cds_header *header,
                                            cds_section_kind kind);

/* ---------------------------------------------------------------- writer */

typedef struct cds_writer cds_writer;

typedef struct cds_writer_options {
    uint64_t base_address;    /* preferred address of file offset 0; page
                                 aligned; 0 selects CDS_DEFAULT_BASE */
    uint64_t max_object_size; /* address space reserved for objects; 0
                                 selects CDS_DEFAULT_MAX_OBJECTS */
} cds_writer_options;

/* Far from where Linux x86-64 places executables, heaps and libraries, and
 * above AddressSanitizer's shadow memory. */
#define CDS_DEFAULT_BASE UINT64_C(0x6a0000000000)
#define CDS_DEFAULT_MAX_OBJECTS (UINT64_C(4) << 30)

/*
 * Reserve the object arena at base_address + CDS_OBJECTS_OFFSET (never
 * replacing an existing mapping: CDS_E_ADDRESS_IN_USE if taken).  Objects are
 * built in place there, so pointers between them are final addresses.
 */
cds_status cds_writer_create(cds_writer **out,
                             const cds_writer_options *options, cds_diag *diag);

/* Unmap the arena and free everything; safe on NULL. */
void cds_writer_destroy(cds_writer *writer);

/*
 * Allocate size bytes, aligned to align (a power of two <= page size), zeroed,
 * at their final address.  Returns NULL when the arena is full.  The memory
 * stays valid until cds_writer_destroy.
 */
void *cds_writer_alloc(cds_writer *writer, size_t size, size_t align);

/* Bytes of object region used so far. */
uint64_t cds_writer_object_size(const cds_writer *writer);

/* Whether [ptr, ptr+size) lies in the allocated part of the arena. */
int cds_writer_contains(const cds_writer *writer, const void *ptr, size_t size);

/* File offset of an arena address, and the arena address of a file offset
 * (NULL when outside the allocated part). */
uint64_t cds_writer_offset(const cds_writer *writer, const void *ptr);
void *cds_writer_pointer(const cds_writer *writer, uint64_t offset);

/* Description of a module, copied by cds_writer_begin_module. */
typedef struct cds_module_info {
    /* Required: name_size bytes, or up to its NUL when name_size is 0.  A
     * name is any bytes (pycds keys extra records by a name holding a NUL,
     * which no module name can collide with). */
    const char *name;
    size_t name_size;
    const char *origin;
    const char *cached;
    const void *extra;
    size_t extra_size;
    uint32_t flags;
    int64_t source_mtime_ns;
    uint64_t source_size;
    uint64_t source_hash;
} cds_module_info;

/*
 * Start a module.  Objects allocated and relocations added until
 * cds_writer_end_module belong to it.  Returns its module number in *number.
 */
cds_status cds_writer_begin_module(cds_writer *writer,
                                   const cds_module_info *info,
                                   uint32_t *number);

/*
 * Record that the word at slot (inside the arena, 8-byte aligned) needs
 * fixing at load time; for CDS_RELOC_INTERNAL it must already hold an address
 * inside the arena.  Only inside a module.
 */
cds_status cds_writer_add_reloc(cds_writer *writer, void *slot,
                                cds_reloc_kind kind, uint32_t arg);

/* Declare that the current module points into module `number`'s objects.
 * The modules `number` depends on are added too, so that every module's list
 * is transitively closed. */
cds_status cds_writer_add_dep(cds_writer *writer, uint32_t number);

/* Finish the current module; root is its root object, inside its objects. */
cds_status cds_writer_end_module(cds_writer *writer, const void *root);

/*
 * Drop the module being built: its objects' space is reused and its
 * relocations and dependencies forgotten, as if it had never begun.
 */
cds_status cds_writer_cancel_module(cds_writer *writer);

/* Opaque bytes stored in the user section (copied). */
cds_status cds_writer_set_user(cds_writer *writer, const void *data,
                               size_t size);

/*
 * Write the archive to path: to a temporary file in the same directory,
 * flushed, then renamed over path, so that readers see the old file or the
 * new one, whole.  fingerprint identifies the runtime that may load it.
 * The writer can be destroyed afterwards; writing twice is an error.
 */
cds_status cds_writer_finish(cds_writer *writer, const char *path,
                             const void *fingerprint, size_t fingerprint_size,
                             cds_diag *diag);

/* ---------------------------------------------------------------- reader */

typedef struct cds_archive cds_archive;

/* Flags for cds_archive_open. */
/* Checksum the object region and the relocation table at open, instead of
 * module by module when each is first prepared. */
#define CDS_OPEN_VERIFY_ALL 0x1u
/* Skip the per-module checksums: for archives that cannot have changed
 * (immutable deployments).  Metadata is still checked at open. */
#define CDS_OPEN_TRUST_MODULES 0x8u
#define CDS_OPEN_ANY_FINGERPRINT 0x2u /* skip the fingerprint comparison */
/* Read objects in as modules are used, not all of them at open. */
#define CDS_OPEN_NO_POPULATE 0x4u

/*
 * Open, validate and map an archive.  The file must be a regular file whose
 * header, size, fingerprint (equal to the one given) and checksums of the
 * index, modules, deps, strings and user sections are right (objects and
 * relocations are checked per module by cds_archive_prepare_module, or all
 * at once with CDS_OPEN_VERIFY_ALL).  Its objects live in private,
 * read+write memory at its preferred address, reserved without replacing any
 * existing mapping; when that address is taken they live elsewhere and
 * cds_archive_delta() says by how much to relocate.  They are read in from
 * the file as modules are used (CDS_OPEN_NO_POPULATE) or all at open; the
 * archive keeps a descriptor of the file (close-on-exec, at a high number)
 * for that.
 */
cds_status cds_archive_open(cds_archive **out, const char *path,
                            const void *fingerprint, size_t fingerprint_size,
                            unsigned flags, cds_diag *diag);

/* Unmap and free; safe on NULL.  Objects inside become invalid. */
void cds_archive_close(cds_archive *archive);

const cds_header *cds_archive_header(const cds_archive *archive);

/* Address the file is mapped at, and that minus the preferred address. */
void *cds_archive_base(const cds_archive *archive);
int64_t cds_archive_delta(const cds_archive *archive);

uint32_t cds_archive_module_count(const cds_archive *archive);

/* Checksum the object region now (CDS_E_OBJECTS_CHECKSUM when wrong). */
cds_status cds_archive_verify_objects(const cds_archive *archive,
                                      cds_diag *diag);

/* The user section; *size receives its length. */
const void *cds_archive_user(const cds_archive *archive, size_t *size);

/*
 * Find a module by name without allocating.  *number receives its module
 * number, usable with the functions below.  CDS_E_NOT_FOUND when absent,
 * CDS_E_CORRUPT when the record it finds is out of range.
 */
cds_status cds_archive_find(const cds_archive *archive, const char *name,
                            size_t name_size, uint32_t *number);

/*
 * The record of module `number`, checked for range (strings, objects,
 * relocations, dependencies inside their sections), or NULL.
 */
const cds_module_record *cds_archive_module(const cds_archive *archive,
                                            uint32_t number);

/* A string of a record, as pointer and size (not NUL-terminated). */
const char *cds_archive_string(const cds_archive *archive, cds_string_ref ref,
                               size_t *size);

/* Address of an object given by its file offset (e.g. record->root), its
 * module's bytes read in first; NULL when no module holds that offset or the
 * file cannot be read. */
void *cds_archive_at(cds_archive *archive, uint64_t offset);

/* What relocation needs from the runtime. */
typedef struct cds_symbols {
    void *const *types; /* CDS_RELOC_TYPE argument -> address */
    uint32_t type_count;
    void *const *singletons; /* CDS_RELOC_SINGLETON argument -> address */
    uint32_t singleton_count;
    /* Called once per module with the slots of its CDS_RELOC_INTERN entries,
     * in ascending order, after all its other relocations are done; may
     * replace any *slots[i].  Nonzero stops relocation and is returned as
     * CDS_E_INVALID_ARGUMENT. */
    int (*intern)(void *context, void **const *slots, size_t count);
    void *context;
} cds_symbols;

/*
 * Apply module `number`'s relocations, checking every entry; a bad one
 * leaves the module's bytes as the file has them.  Neither its checksum nor
 * whether it was relocated before is looked at (applying twice adds the
 * delta twice): for tools and benchmarks; cds_archive_prepare_module is how
 * readers relocate.
 */
cds_status cds_archive_apply_relocs(cds_archive *archive, uint32_t number,
                                    const cds_symbols *symbols);

/*
 * Make module `number` usable: relocate each module it depends on that is
 * not yet relocated, then the module itself, each after checking its
 * checksum (CDS_E_MODULE_CHECKSUM when wrong; nothing of that module is
 * changed).  Each module's relocations are applied at most once per archive.
 */
cds_status cds_archive_prepare_module(cds_archive *archive, uint32_t number,
                                      const cds_symbols *symbols);

/*
 * The file's own bytes of [ptr, ptr + size), an object (in the object
 * window) of a module the caller has not prepared: where they are in the
 * archive's read-only mapping of the file, once the checksum of the module
 * that holds them was checked there (once per archive).  Nothing is read
 * into the window.  NULL with *status CDS_E_MODULE_CHECKSUM, or
 * CDS_E_CORRUPT when no module holds that range.
 */
const void *cds_archive_file_bytes(cds_archive *archive, const void *ptr,
                                   size_t size, cds_status *status);

/*
 * Give the object window's whole pages inside [ptr, ptr + size) back to the
 * kernel, for objects the caller will never touch again (they would read as
 * zeros).  Pages of extents read whole are first advised out of huge pages,
 * so that the kernel does not gather them into one again.  *given receives
 * the bytes given back (0 when no whole page lies inside).  CDS_E_CORRUPT
 * when the range is not inside one module's objects, CDS_E_IO when the
 * kernel refuses.
 */
cds_status cds_archive_give_back(cds_archive *archive, const void *ptr,
                                 size_t size, uint64_t *given);

/* Whether module `number` has been relocated. */
int cds_archive_module_ready(const cds_archive *archive, uint32_t number);

#ifdef __cplusplus
}
#endif

#endif /* CDS_CDS_H */
