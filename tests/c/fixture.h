/*
 * fixture.h - sample archives for the C tests and benchmarks.
 */
#ifndef CDS_TEST_FIXTURE_H
#define CDS_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cds/cds.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fingerprint sample archives carry. */
#define FIXTURE_FINGERPRINT "fixture-runtime 1.0"
#define FIXTURE_FINGERPRINT_SIZE (sizeof FIXTURE_FINGERPRINT - 1)

/* Runtime "types" and "singletons" the sample relocations refer to. */
#define FIXTURE_TYPE_COUNT 3
#define FIXTURE_SINGLETON_COUNT 2

/*
 * The root object of each sample module.  Module m > 0 points into module
 * 0's node, so it depends on module 0 (and on nothing else: the dependency
 * list a writer records must be transitively closed).
 */
typedef struct fixture_node {
    void *type;      /* CDS_RELOC_TYPE, arg m % FIXTURE_TYPE_COUNT */
    void *self;      /* CDS_RELOC_INTERNAL, -> this node */
    void *singleton; /* CDS_RELOC_SINGLETON, arg m % FIXTURE_SINGLETON_COUNT */
    void *name;      /* CDS_RELOC_INTERN, -> text below */
    void *first;     /* CDS_RELOC_INTERNAL, -> module 0's node, or NULL */
    uint64_t number; /* m */
    char text[32];   /* "module <m>" */
} fixture_node;

typedef struct fixture_options {
    uint64_t base_address; /* 0: CDS_DEFAULT_BASE */
    uint32_t modules;      /* number of modules */
    size_t payload;        /* extra zeroed bytes per module */
    uint32_t extra_relocs; /* extra CDS_RELOC_TYPE entries per module */
} fixture_options;

/* Name of sample module m: "pkg.mod<m>". */
void fixture_module_name(uint32_t m, char *buffer, size_t size);

/* Build a sample archive at path.  Returns CDS_OK or the failing status. */
cds_status fixture_write(const char *path, const fixture_options *options);

/* Build a sample archive at path (fixture_write) and open it with `flags`:
 * the archive, or NULL after a line on stderr saying which step failed
 * (the tests' CHECK(a) then counts the failure). */
cds_archive *fixture_open(const char *path, const fixture_options *options,
                          unsigned flags);

/* A fresh temporary directory (removed with its files by fixture_cleanup). */
const char *fixture_dir(void);
void fixture_cleanup(void);

/* Symbols for relocation: fake types and singletons, counting interns. */
typedef struct fixture_runtime {
    void *types[FIXTURE_TYPE_COUNT];
    void *singletons[FIXTURE_SINGLETON_COUNT];
    char storage[FIXTURE_TYPE_COUNT + FIXTURE_SINGLETON_COUNT];
    unsigned long interned;
    cds_symbols symbols;
} fixture_runtime;

void fixture_runtime_init(fixture_runtime *runtime);

/* File helpers for corrupting archives. */
int fixture_copy(const char *from, const char *to);
int fixture_truncate(const char *path, uint64_t size);
int fixture_flip_byte(const char *path, uint64_t offset);
int fixture_read_header(const char *path, cds_header *header);
int fixture_write_header(const char *path, const cds_header *header);
uint64_t fixture_file_size(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* CDS_TEST_FIXTURE_H */
