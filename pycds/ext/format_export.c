/*
 * format_export.c - format.h's layout as module constants (see
 * format_export.h).
 */
#include "format_export.h"

#include <stddef.h>

#include "cds/cds.h"

#define FIELD(type, name)                                                      \
    {                                                                          \
#name, offsetof(type, name), sizeof(((type *)0)->name)                 \
    }

typedef struct field {
    const char *name;
    size_t offset, size;
} field;

static const field header_fields[] = {
    FIELD(cds_header, magic),
    FIELD(cds_header, format_version),
    FIELD(cds_header, header_size),
    FIELD(cds_header, file_size),
    FIELD(cds_header, base_address),
    FIELD(cds_header, header_checksum),
    FIELD(cds_header, fingerprint_size),
    FIELD(cds_header, section_count),
    FIELD(cds_header, module_count),
    FIELD(cds_header, flags),
    FIELD(cds_header, fingerprint),
    FIELD(cds_header, sections),
};

static const field section_fields[] = {
    FIELD(cds_section_entry, kind),     FIELD(cds_section_entry, reserved),
    FIELD(cds_section_entry, offset),   FIELD(cds_section_entry, size),
    FIELD(cds_section_entry, checksum),
};

static PyObject *fields_dict(const field *fields, size_t count)
{
    PyObject *dict = PyDict_New();
    for (size_t i = 0; dict && i < count; i++) {
        PyObject *value = Py_BuildValue("(nn)", (Py_ssize_t)fields[i].offset,
                                        (Py_ssize_t)fields[i].size);
        if (!value || PyDict_SetItemString(dict, fields[i].name, value) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(value);
    }
    return dict;
}

static PyObject *section_kinds(void)
{
    PyObject *dict = PyDict_New();
    for (uint32_t kind = 1; dict && kind <= CDS_SECTION_KIND_COUNT; kind++) {
        PyObject *value = PyLong_FromUnsignedLong(kind);
        if (!value ||
            PyDict_SetItemString(dict, cds_section_name(kind), value) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(value);
    }
    return dict;
}

static int add(PyObject *m, const char *name, PyObject *value)
{
    int status = value ? PyModule_AddObjectRef(m, name, value) : -1;
    Py_XDECREF(value);
    return status;
}

int pycds_add_format_constants(PyObject *m)
{
    if (PyModule_AddIntConstant(m, "HEADER_SIZE", sizeof(cds_header)) < 0 ||
        PyModule_AddIntConstant(m, "OBJECTS_OFFSET", CDS_OBJECTS_OFFSET) < 0 ||
        PyModule_AddIntConstant(m, "PAGE_SIZE", CDS_PAGE_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "SECTION_ENTRY_SIZE",
                                sizeof(cds_section_entry)) < 0)
        return -1;
    return add(m, "MAGIC",
               PyBytes_FromStringAndSize(CDS_MAGIC, CDS_MAGIC_SIZE)) < 0 ||
                   add(m, "HEADER_FIELDS",
                       fields_dict(header_fields, sizeof header_fields /
                                                      sizeof *header_fields)) <
                       0 ||
                   add(m, "SECTION_FIELDS",
                       fields_dict(section_fields,
                                   sizeof section_fields /
                                       sizeof *section_fields)) < 0 ||
                   add(m, "SECTION_KINDS", section_kinds()) < 0
               ? -1
               : 0;
}
