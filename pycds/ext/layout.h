/*
 * layout.h - how pycds lays Python objects out in an archive.
 *
 * The numbering of runtime types and singletons, and the module root, are
 * part of the object format: change them and bump PYCDS_OBJECT_FORMAT
 * (fingerprint.h), which makes older archives refuse to load.
 */
#ifndef PYCDS_LAYOUT_H
#define PYCDS_LAYOUT_H

#include <stdint.h>

/* Runtime types, by CDS_RELOC_TYPE argument. */
enum pycds_type {
    PYCDS_TYPE_STR,
    PYCDS_TYPE_BYTES,
    PYCDS_TYPE_INT,
    PYCDS_TYPE_FLOAT,
    PYCDS_TYPE_COMPLEX,
    PYCDS_TYPE_TUPLE,
    PYCDS_TYPE_CODE,
    PYCDS_TYPE_COUNT
};

/*
 * Runtime singletons, by CDS_RELOC_SINGLETON argument: objects whose identity
 * matters, so archived code must point at this process's own.  The small
 * ints and one-character latin-1 strings are those marshal returns shared.
 */
#define PYCDS_SMALL_INT_MIN (-5)
#define PYCDS_SMALL_INT_MAX 256
enum pycds_singleton {
    PYCDS_SINGLETON_NONE,
    PYCDS_SINGLETON_TRUE,
    PYCDS_SINGLETON_FALSE,
    PYCDS_SINGLETON_ELLIPSIS,
    PYCDS_SINGLETON_EMPTY_STR,
    PYCDS_SINGLETON_EMPTY_TUPLE,
    PYCDS_SINGLETON_EMPTY_BYTES,
    PYCDS_SINGLETON_SMALL_INTS,
    PYCDS_SINGLETON_LATIN1 = PYCDS_SINGLETON_SMALL_INTS +
                             (PYCDS_SMALL_INT_MAX - PYCDS_SMALL_INT_MIN + 1),
    PYCDS_SINGLETON_COUNT = PYCDS_SINGLETON_LATIN1 + 256
};

/*
 * The root object of an archived module: its code, every code object in it
 * (for the per-code work done at load), the slots that must receive a
 * frozenset built at load from the element tuple they hold, and the objects
 * that only the module's body and its class bodies use.  Frozensets cannot
 * be archived as they are: their table depends on randomised hashes.
 *
 * Run-once objects (the module's code, the code of the class bodies it runs,
 * and what only they hold: their constants' and names' tuples, line and
 * exception tables) are what plain Python frees once the body returned.
 * The copier lays them out last, right after the root, in [once_begin,
 * once_begin + once_size) up to the module's end, which it pads to a page
 * boundary; they have a mortal reference count (PYCDS_ONCE_REFCNT).  When
 * the body returned and none of them is referenced from outside (every
 * count as archived), the share side gives their whole pages back to the
 * kernel and imports the module plainly from then on (share.c).  All
 * pointers are relocated like any other.
 */
#define PYCDS_ROOT_MAGIC UINT64_C(0x3253544f4f525943) /* "CYROOTS2" */
typedef struct pycds_root {
    uint64_t magic;
    uint32_t code_count;
    uint32_t frozenset_count;
    uint32_t once_count;
    uint32_t reserved;  /* 0 */
    void *once_begin;   /* the first run-once object's first byte */
    uint64_t once_size; /* to the module's end, padding included */
    /* code_count code objects (the module's own first), frozenset_count
     * slots, once_count run-once objects; then unused room (0) */
    void *items[];
} pycds_root;

/*
 * Module flags of pycds's own, beside libcds's CDS_MODULE_PACKAGE: what kind
 * of record it is.  A record of neither kind holds a module's code.  An
 * extension module's record holds no code, only where the module was found
 * (origin, fast-path record, the file's size and mtime): the finder hands
 * out the spec plain finding would, without searching.  An absent name's
 * record says that the traced run looked for that name on a search path and
 * found nothing there (its fast-path record lists the whole path): the
 * finder answers "not found" for PathFinder while that still holds.  A
 * unit's record holds, in its extra bytes, the objects a module's body made
 * (opaque here: the Python side writes and reads them); it is indexed under
 * the module's name, a NUL and "unit" (PYCDS_UNIT_SUFFIX), which no module
 * name can equal, so a module lookup never finds it.  All three have an
 * empty placeholder as their root, and a record is at most one of them.
 */
#define PYCDS_MODULE_EXTENSION 0x100u
#define PYCDS_MODULE_ABSENT 0x200u
#define PYCDS_MODULE_UNIT 0x400u
#define PYCDS_MODULE_KINDS                                                     \
    (PYCDS_MODULE_EXTENSION | PYCDS_MODULE_ABSENT | PYCDS_MODULE_UNIT)
/* On a unit's record, or on the code record of a module that has no unit:
 * importing the module pays for loading the restore itself (the dump
 * measured the units of its import tree gaining more than the restore's own
 * modules cost).  A process that has restored no unit yet runs the body of
 * a module whose unit lacks it; a module whose code record has it tells the
 * restorer before its body runs (finder.c), so that the units its body
 * imports are restored. */
#define PYCDS_MODULE_UNIT_STARTS 0x800u

/* What follows the module's name in its unit record's name. */
#define PYCDS_UNIT_SUFFIX "\0unit"
#define PYCDS_UNIT_SUFFIX_SIZE (sizeof PYCDS_UNIT_SUFFIX - 1)

#endif /* PYCDS_LAYOUT_H */
