/*
 * share.h - the share side: this process's mapped archive, and archived
 * modules made ready on first import.
 */
#ifndef PYCDS_SHARE_H
#define PYCDS_SHARE_H

#include "compat.h"

#include <stdint.h>

typedef struct pycds_share_stats {
    uint64_t modules;     /* modules made ready */
    uint64_t relocate_ns; /* time in relocation and interning */
    uint64_t revive_ns;   /* time in frozensets, versions, watchers */
    uint64_t by_value;    /* strings of unprepared modules interned by value */
    uint64_t given_back_modules; /* modules whose run-once pages went back */
    uint64_t given_back_bytes;   /* the bytes of those pages */
} pycds_share_counters;

/* What an archive record is (layout.h's module flags). */
typedef enum pycds_record_kind {
    PYCDS_RECORD_CODE,      /* a module's code */
    PYCDS_RECORD_EXTENSION, /* where an extension module was found */
    PYCDS_RECORD_ABSENT,    /* a name the traced run did not find */
    PYCDS_RECORD_UNIT,      /* a module's objects: never found as a module */
} pycds_record_kind;

/* What the finder needs to know of an archived module. */
typedef struct pycds_module_view {
    uint32_t number;
    pycds_record_kind kind;
    int is_package;
    const char *origin; /* not NUL-terminated */
    size_t origin_size;
    int64_t source_mtime_ns;
    uint64_t source_size;
    uint64_t source_hash; /* XXH3 of the file's contents at the dump */
    const char *extra;    /* the dumper's fast-path record, maybe empty */
    size_t extra_size;
} pycds_module_view;

/* How a module's file is checked against the dump (PYCDSVALIDATE):
 * "mtime" (size and modification time, the default), "hash" (also an XXH3
 * of the contents), "none" (trust the archive: immutable deployments). */
typedef enum pycds_validation {
    PYCDS_VALIDATE_MTIME,
    PYCDS_VALIDATE_HASH,
    PYCDS_VALIDATE_NONE,
} pycds_validation;

/* The shared archive's settings, given to share_open: PYCDSVERBOSE (1:
 * each hit and fallback; 2: with timings) and PYCDSVALIDATE. */
int pycds_share_verbosity(void);
pycds_validation pycds_share_validation(void);

/* Look a module up in the shared archive: 1 and *view when it is archived
 * (and not refused earlier), 0 when not, -1 with an exception on error.
 * Never a unit record. */
int pycds_share_find(PyObject *name, pycds_module_view *view);

/* The unit of module `name`: 1 and *unit (a new reference to a read-only
 * memoryview of its bytes in the mapped archive), 0 when it has none or no
 * archive is shared, -1 with an exception on error.  Costs a flag test when
 * the archive holds no units. */
int pycds_share_unit_of(PyObject *name, PyObject **unit);

/* Whether module `number`'s code record says that importing it pays for
 * loading the restore (PYCDS_MODULE_UNIT_STARTS): 1, or 0 (also with no
 * archive, or no unit in it). */
int pycds_share_code_starts(uint32_t number);

/* share_open(path, *, verify_objects=False, verbose=0, validate="mtime")
 * -> dict: map the archive (ValueError for an unknown validate). */
PyObject *pycds_share_open(PyObject *module, PyObject *args, PyObject *kwargs);
/* share_validation() -> "mtime", "hash" or "none": the shared archive's
 * PYCDSVALIDATE, which a snapshot restore applies to a unit's data files. */
PyObject *pycds_share_validation_name(PyObject *module, PyObject *unused);
/* share_lookup(name) -> (number, origin, is_package, mtime_ns, size, hash)
 * or None. */
PyObject *pycds_share_lookup(PyObject *module, PyObject *name);
/* share_code_as_dumped(name) -> True when the code of module `name` that
 * ran in this process is the archive's: served from it, or imported from a
 * file that passes the check below; False when its file has changed; None
 * when the archive holds no code of it. */
PyObject *pycds_share_code_as_dumped(PyObject *module, PyObject *name);
/* Whether an archived module's file is still the one the dump read, checked
 * as PYCDSVALIDATE says: NULL when it is (or validation is "none"), else
 * the reason it is not, as one short phrase. */
const char *pycds_share_source_changed(const pycds_module_view *view);
/* Module `number`'s code object, made ready on first use (new reference);
 * None when it must be imported plainly; NULL with an exception when the
 * module was refused. */
PyObject *pycds_share_code_of(uint32_t number);
/* pycds_share_code_of for an import: None once the code was handed to an
 * import before (a reload, or an import after the module was dropped from
 * sys.modules or failed, reads the file and makes new code, as plain
 * importing does). */
PyObject *pycds_share_code_for_import(uint32_t number);
/* Note that module `number`'s body ran (or its unit was restored) from
 * the code pycds_share_code_of gave; pycds_share_settle, called when an
 * archived import returns (`outermost`: no other archived import runs),
 * gives back the pages of the run-once objects (layout.h) of the modules
 * noted that nothing refers to any more; the others are looked at again
 * when an outermost import returns.  A module given back is imported
 * plainly from then on. */
void pycds_share_body_ran(uint32_t number);
void pycds_share_settle(int outermost);
/* share_code(number) -> the same, for Python. */
PyObject *pycds_share_code(PyObject *module, PyObject *number);
/* share_unit(name) -> memoryview or None. */
PyObject *pycds_share_unit(PyObject *module, PyObject *name);
/* unit_starts(name) -> whether module `name` has a unit whose record says
 * restoring it pays for loading the restore (PYCDS_MODULE_UNIT_STARTS). */
PyObject *pycds_share_unit_starts(PyObject *module, PyObject *name);
/* share_stats() -> dict of counters. */
PyObject *pycds_share_stats(PyObject *module, PyObject *unused);

#endif /* PYCDS_SHARE_H */
