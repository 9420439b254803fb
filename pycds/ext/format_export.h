/*
 * format_export.h - the archive format's layout (libcds's format.h) as
 * constants of pycds._cds, so that tools and tests read headers and section
 * tables from the one definition instead of restating the structs.
 */
#ifndef PYCDS_FORMAT_EXPORT_H
#define PYCDS_FORMAT_EXPORT_H

#include "compat.h"

/* Add HEADER_SIZE, OBJECTS_OFFSET, PAGE_SIZE, MAGIC, HEADER_FIELDS and
 * SECTION_FIELDS ({name: (offset, size)}), SECTION_ENTRY_SIZE and
 * SECTION_KINDS ({name: kind}) to module m; -1 on error. */
int pycds_add_format_constants(PyObject *m);

#endif /* PYCDS_FORMAT_EXPORT_H */
