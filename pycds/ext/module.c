/*
 * module.c - the pycds._cds extension module.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "archive_type.h"
#include "fingerprint.h"
#include "module_state.h"

extern PyType_Spec pycds_writer_spec;

pycds_module_state pycds_state;

static PyObject *fingerprint(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    size_t size;
    const char *text = pycds_fingerprint(&size);
    return PyBytes_FromStringAndSize(text, (Py_ssize_t)size);
}

static PyMethodDef module_methods[] = {
    {"fingerprint", fingerprint, METH_NOARGS,
     "fingerprint() -> bytes: the identity of this interpreter build that\n"
     "archives record; an archive with another fingerprint is refused."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pycds._cds",
    .m_doc = "pycds core: archive container, copier and importer.",
    .m_size = -1,
    .m_methods = module_methods,
};

static const char archive_error_doc[] =
    "An archive was refused.  str() is one line, 'PATH: REASON'; the\n"
    "attributes path, reason and status give the parts.";

PyMODINIT_FUNC PyInit__cds(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (!pycds_state.archive_error) {
        pycds_state.archive_error = PyErr_NewExceptionWithDoc(
            "pycds._cds.ArchiveError", archive_error_doc, NULL, NULL);
        pycds_state.archive_type = PyType_FromSpec(&pycds_archive_spec);
        pycds_state.writer_type = PyType_FromSpec(&pycds_writer_spec);
        if (!pycds_state.archive_error || !pycds_state.archive_type ||
            !pycds_state.writer_type)
            goto error;
    }
    if (PyModule_AddObjectRef(m, "ArchiveError", pycds_state.archive_error) <
            0 ||
        PyModule_AddObjectRef(m, "Archive", pycds_state.archive_type) < 0 ||
        PyModule_AddObjectRef(m, "Writer", pycds_state.writer_type) < 0 ||
        PyModule_AddIntConstant(m, "OBJECT_FORMAT", PYCDS_OBJECT_FORMAT) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_VERSION", CDS_FORMAT_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "DEFAULT_BASE", (long)CDS_DEFAULT_BASE) < 0)
        goto error;
    return m;
error:
    Py_DECREF(m);
    return NULL;
}
