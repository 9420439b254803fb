/*
 * fingerprint.c - what makes an archive loadable by this interpreter only.
 *
 * Internal object layouts can change between patch releases and between
 * builds with other configure options, so the fingerprint records the full
 * sys.version (release, build date, compiler), the .pyc magic number, the
 * ABI flags that change layouts, the sizes of the structures pycds copies, and
 * pycds's own object format version.  Two interpreters that agree on all of
 * it lay out these objects the same way.
 */
#include "compat.h"

#include <stdio.h>

#include "cds/cds.h"
#include "fingerprint.h"

static char text[CDS_FINGERPRINT_MAX];
static size_t text_size;

const char *pycds_fingerprint(size_t *size)
{
    if (text_size == 0) {
#ifdef Py_DEBUG
        const int debug = 1;
#else
        const int debug = 0;
#endif
#ifdef Py_GIL_DISABLED
        const int free_threaded = 1;
#else
        const int free_threaded = 0;
#endif
        int n = snprintf(
            text, sizeof text,
            "pycds/%d %s|magic=%ld|hex=%lx|ptr=%zu|debug=%d|ft=%d|digit=%d"
            "|sizes=%zu,%zu,%zu,%zu,%zu,%zu",
            PYCDS_OBJECT_FORMAT, Py_GetVersion(), PyImport_GetMagicNumber(),
            (unsigned long)PY_VERSION_HEX, sizeof(void *), debug, free_threaded,
            PYLONG_BITS_IN_DIGIT, sizeof(PyCodeObject), sizeof(PyASCIIObject),
            sizeof(PyCompactUnicodeObject), sizeof(PyTupleObject),
            sizeof(PyBytesObject), sizeof(PyGC_Head));
        /* Truncation keeps a prefix; sys.version is far below the limit. */
        text_size = n < 0                      ? 0
                    : (size_t)n >= sizeof text ? sizeof text - 1
                                               : (size_t)n;
        /* No newline may break the one-line form used in messages. */
        for (size_t i = 0; i < text_size; i++)
            if (text[i] == '\n')
                text[i] = ' ';
    }
    *size = text_size;
    return text;
}
