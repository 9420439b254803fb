/*
 * class_image.c - a class made from an image of its final words
 * (class_image.h says why and what an image holds).
 */
#include "class_image.h"

#include <structmember.h> /* PyMemberDef on 3.11 */

#include "classes.h"
#include "error.h"

#define IMAGE_FORMAT 1
#define IMAGE_FIELDS 14

/* A slot reference (one byte): NULL, the same slot of probe class k
 * (1..PROBE_COUNT), the same slot of MRO[i] (REF_MRO | i, i >= 1), or
 * REF_OTHER: another slot of a class of the MRO, named in the image's
 * list of (slot, MRO index, its slot) -- a dict subclass's sq_length is
 * dict's mp_length, which dict.__len__ wraps. */
#define REF_NULL 0
#define REF_MRO 0x80
#define MRO_REACH 0x7e
#define REF_OTHER 0xff

/* Flags PyType_Ready owns: set by it, never copied from an image. */
#define READY_FLAGS                                                            \
    (Py_TPFLAGS_READY | Py_TPFLAGS_READYING | Py_TPFLAGS_VALID_VERSION_TAG)

/* Where a slot function lives: in the type object, or in one of the method
 * structs (a heap type embeds its own; a static type points to its own or
 * to none, whose slots are then NULL). */
enum slot_group {
    IN_TYPE,
    IN_ASYNC,
    IN_NUMBER,
    IN_MAPPING,
    IN_SEQUENCE,
    IN_BUFFER
};

typedef struct slot_field {
    const char *name; /* for messages; NULL: a method struct's word */
    unsigned char group;
    unsigned short offset;      /* in the type object or the method struct */
    unsigned char before_ready; /* type.__new__ sets it before PyType_Ready */
} slot_field;

/* clang-format off */
#define TYPE_SLOT(name, early) {#name, IN_TYPE, offsetof(PyTypeObject, name), early}
/* clang-format on */

/* The type object's pointers that are slot functions or tables of static
 * data (tp_getset: one of typeobject.c's subtype_getsets_*). */
static const slot_field TYPE_SLOTS[] = {
    TYPE_SLOT(tp_dealloc, 1),   TYPE_SLOT(tp_getattr, 0),
    TYPE_SLOT(tp_setattr, 0),   TYPE_SLOT(tp_repr, 0),
    TYPE_SLOT(tp_hash, 0),      TYPE_SLOT(tp_call, 0),
    TYPE_SLOT(tp_str, 0),       TYPE_SLOT(tp_getattro, 0),
    TYPE_SLOT(tp_setattro, 0),  TYPE_SLOT(tp_traverse, 1),
    TYPE_SLOT(tp_clear, 1),     TYPE_SLOT(tp_richcompare, 0),
    TYPE_SLOT(tp_iter, 0),      TYPE_SLOT(tp_iternext, 0),
    TYPE_SLOT(tp_methods, 0),   TYPE_SLOT(tp_getset, 1),
    TYPE_SLOT(tp_descr_get, 0), TYPE_SLOT(tp_descr_set, 0),
    TYPE_SLOT(tp_init, 0),      TYPE_SLOT(tp_alloc, 1),
    TYPE_SLOT(tp_new, 0),       TYPE_SLOT(tp_free, 1),
    TYPE_SLOT(tp_is_gc, 0),     TYPE_SLOT(tp_del, 0),
    TYPE_SLOT(tp_finalize, 0),  TYPE_SLOT(tp_vectorcall, 0),
};

#define TYPE_SLOT_COUNT (sizeof TYPE_SLOTS / sizeof *TYPE_SLOTS)
#define WORDS(s) (sizeof(s) / sizeof(void *))
#define SLOT_COUNT                                                             \
    (TYPE_SLOT_COUNT + WORDS(PyAsyncMethods) + WORDS(PyNumberMethods) +        \
     WORDS(PyMappingMethods) + WORDS(PySequenceMethods) +                      \
     WORDS(PyBufferProcs))

/* Every slot an image names, in image order: the type's, then each word
 * of each method struct. */
static slot_field slot_fields[SLOT_COUNT];

static void list_slots(void)
{
    static const struct {
        unsigned char group;
        size_t words;
    } structs[] = {
        {IN_ASYNC, WORDS(PyAsyncMethods)},
        {IN_NUMBER, WORDS(PyNumberMethods)},
        {IN_MAPPING, WORDS(PyMappingMethods)},
        {IN_SEQUENCE, WORDS(PySequenceMethods)},
        {IN_BUFFER, WORDS(PyBufferProcs)},
    };
    size_t n = 0;
    for (size_t i = 0; i < TYPE_SLOT_COUNT; i++)
        slot_fields[n++] = TYPE_SLOTS[i];
    for (size_t s = 0; s < sizeof structs / sizeof *structs; s++)
        for (size_t w = 0; w < structs[s].words; w++)
            slot_fields[n++] =
                (slot_field){NULL, structs[s].group,
                             (unsigned short)(w * sizeof(void *)), 0};
}

/* Where field f of type t is (NULL: in no struct). */
static char *slot_place(PyTypeObject *t, slot_field f)
{
    switch (f.group) {
    case IN_TYPE: return (char *)t + f.offset;
    case IN_ASYNC:
        return t->tp_as_async ? (char *)t->tp_as_async + f.offset : NULL;
    case IN_NUMBER:
        return t->tp_as_number ? (char *)t->tp_as_number + f.offset : NULL;
    case IN_MAPPING:
        return t->tp_as_mapping ? (char *)t->tp_as_mapping + f.offset : NULL;
    case IN_SEQUENCE:
        return t->tp_as_sequence ? (char *)t->tp_as_sequence + f.offset : NULL;
    default: return t->tp_as_buffer ? (char *)t->tp_as_buffer + f.offset : NULL;
    }
}

static void *read_slot(PyTypeObject *t, slot_field f)
{
    char *place = slot_place(t, f);
    void *value = NULL;
    if (place)
        memcpy(&value, place, sizeof value);
    return value;
}

static void write_slot(PyTypeObject *t, slot_field f, void *value)
{
    memcpy(slot_place(t, f), &value, sizeof value); /* t's own structs */
}

/* ------------------------------------------------------------- probes */

/*
 * The slot functions of typeobject.c that libpython does not export
 * (slot_tp_repr, slot_nb_add, subtype_dealloc, subtype_getsets_full, ...)
 * are read from probe classes made once per process: one that defines
 * every slot's dunder (each slot then holds its slot_* function), one with
 * __getattr__ and __hash__ = None (slot_tp_getattr_hook,
 * PyObject_HashNotImplemented), and the four layouts a class statement
 * gives (its own dict and weak references, only one of them, neither).
 * Each is discarded once read: no probe stays among object's subclasses.
 */
static const char *const EVERY_DUNDER[] = {"__getattribute__",
                                           "__setattr__",
                                           "__delattr__",
                                           "__repr__",
                                           "__hash__",
                                           "__call__",
                                           "__str__",
                                           "__lt__",
                                           "__le__",
                                           "__eq__",
                                           "__ne__",
                                           "__gt__",
                                           "__ge__",
                                           "__iter__",
                                           "__next__",
                                           "__get__",
                                           "__set__",
                                           "__delete__",
                                           "__init__",
                                           "__new__",
                                           "__del__",
                                           "__await__",
                                           "__aiter__",
                                           "__anext__",
                                           "__add__",
                                           "__radd__",
                                           "__sub__",
                                           "__rsub__",
                                           "__mul__",
                                           "__rmul__",
                                           "__mod__",
                                           "__rmod__",
                                           "__divmod__",
                                           "__rdivmod__",
                                           "__pow__",
                                           "__rpow__",
                                           "__neg__",
                                           "__pos__",
                                           "__abs__",
                                           "__bool__",
                                           "__invert__",
                                           "__lshift__",
                                           "__rlshift__",
                                           "__rshift__",
                                           "__rrshift__",
                                           "__and__",
                                           "__rand__",
                                           "__xor__",
                                           "__rxor__",
                                           "__or__",
                                           "__ror__",
                                           "__int__",
                                           "__float__",
                                           "__iadd__",
                                           "__isub__",
                                           "__imul__",
                                           "__imod__",
                                           "__ipow__",
                                           "__ilshift__",
                                           "__irshift__",
                                           "__iand__",
                                           "__ixor__",
                                           "__ior__",
                                           "__floordiv__",
                                           "__rfloordiv__",
                                           "__truediv__",
                                           "__rtruediv__",
                                           "__ifloordiv__",
                                           "__itruediv__",
                                           "__index__",
                                           "__matmul__",
                                           "__rmatmul__",
                                           "__imatmul__",
                                           "__len__",
                                           "__getitem__",
                                           "__setitem__",
                                           "__delitem__",
                                           "__contains__",
                                           "__buffer__",
                                           "__release_buffer__",
                                           NULL};

enum probe_kind {
    PROBE_EVERY_DUNDER,
    PROBE_GETATTR_HOOK,
    PROBE_PLAIN,
    PROBE_DICT_ONLY,
    PROBE_WEAKREF_ONLY,
    PROBE_NO_DICT,
    PROBE_COUNT
};

static void *probe_slots[PROBE_COUNT][SLOT_COUNT];
static int probes_read;

static PyObject *probe_namespace(enum probe_kind kind)
{
    PyObject *ns = PyDict_New();
    if (!ns)
        return NULL;
    int failed = 0;
    PyObject *slots = NULL;
    switch (kind) {
    case PROBE_EVERY_DUNDER:
        for (const char *const *name = EVERY_DUNDER; *name && !failed; name++)
            failed = PyDict_SetItemString(ns, *name, Py_Ellipsis) < 0;
        break;
    case PROBE_GETATTR_HOOK:
        failed = PyDict_SetItemString(ns, "__getattr__", Py_Ellipsis) < 0 ||
                 PyDict_SetItemString(ns, "__eq__", Py_Ellipsis) < 0 ||
                 PyDict_SetItemString(ns, "__hash__", Py_None) < 0;
        break;
    case PROBE_DICT_ONLY: slots = Py_BuildValue("(s)", "__dict__"); break;
    case PROBE_WEAKREF_ONLY: slots = Py_BuildValue("(s)", "__weakref__"); break;
    case PROBE_NO_DICT: slots = PyTuple_New(0); break;
    default: break;
    }
    if (kind >= PROBE_DICT_ONLY)
        failed = !slots || PyDict_SetItemString(ns, "__slots__", slots) < 0;
    Py_XDECREF(slots);
    if (failed)
        Py_CLEAR(ns);
    return ns;
}

static int read_probes(void)
{
    if (probes_read)
        return 0;
    list_slots();
    for (int kind = 0; kind < PROBE_COUNT; kind++) {
        PyObject *ns = probe_namespace((enum probe_kind)kind);
        if (!ns)
            return -1;
        PyObject *probe =
            PyObject_CallFunction((PyObject *)&PyType_Type, "s(O)N",
                                  "_pycds_probe", &PyBaseObject_Type, ns);
        if (!probe)
            return -1;
        for (size_t f = 0; f < SLOT_COUNT; f++)
            probe_slots[kind][f] =
                read_slot((PyTypeObject *)probe, slot_fields[f]);
        pycds_discard_class(probe);
    }
    probes_read = 1;
    return 0;
}

/* The reference that names `value`, field f of a class with this MRO; -1
 * when nothing does. */
static int name_slot(void *value, size_t f, PyObject *mro)
{
    if (!value)
        return REF_NULL;
    for (int kind = 0; kind < PROBE_COUNT; kind++)
        if (probe_slots[kind][f] == value)
            return 1 + kind;
    Py_ssize_t reach = PyTuple_GET_SIZE(mro);
    for (Py_ssize_t i = 1; i < reach && i <= MRO_REACH; i++)
        if (read_slot((PyTypeObject *)PyTuple_GET_ITEM(mro, i),
                      slot_fields[f]) == value)
            return REF_MRO | (int)i;
    return -1;
}

/* MRO[i] of a class, or NULL when i is out of reach (or before the MRO
 * exists). */
static PyTypeObject *mro_class(PyObject *mro, Py_ssize_t i)
{
    if (!mro || i < 1 || i >= PyTuple_GET_SIZE(mro))
        return NULL;
    return (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
}

/* The other slot an image names for field f: (f, i, g) in `others`. */
static void *follow_other(PyObject *others, size_t f, PyObject *mro, int *ok)
{
    for (Py_ssize_t k = 0; others && k < PyTuple_GET_SIZE(others); k++) {
        PyObject *entry = PyTuple_GET_ITEM(others, k);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3)
            break;
        size_t field = PyLong_AsSize_t(PyTuple_GET_ITEM(entry, 0));
        Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 1));
        size_t other = PyLong_AsSize_t(PyTuple_GET_ITEM(entry, 2));
        if (PyErr_Occurred()) {
            PyErr_Clear();
            break;
        }
        if (field != f)
            continue;
        PyTypeObject *klass = mro_class(mro, i);
        if (!klass || other >= SLOT_COUNT)
            break;
        return read_slot(klass, slot_fields[other]);
    }
    *ok = 0;
    return NULL;
}

/* What reference `ref` names for field f; *ok = 0 when it names nothing
 * (an MRO index out of reach, or, before the MRO exists, any). */
static void *follow_slot(unsigned char ref, size_t f, PyObject *mro,
                         PyObject *others, int *ok)
{
    *ok = 1;
    if (ref == REF_NULL)
        return NULL;
    if (ref == REF_OTHER)
        return follow_other(others, f, mro, ok);
    if (ref & REF_MRO) {
        PyTypeObject *klass = mro_class(mro, ref & ~REF_MRO);
        if (!klass) {
            *ok = 0;
            return NULL;
        }
        return read_slot(klass, slot_fields[f]);
    }
    if (ref > PROBE_COUNT) {
        *ok = 0;
        return NULL;
    }
    return probe_slots[ref - 1][f];
}

/* ------------------------------------------------------------ members */

static PyMemberDef *own_members(PyHeapTypeObject *et)
{
    return (PyMemberDef *)((char *)et + Py_TYPE(et)->tp_basicsize);
}

/* The image's members, each (index in ht_slots, type, offset, flags);
 * NULL (no exception) when a member's name is not one of ht_slots'. */
static PyObject *image_members(PyHeapTypeObject *et)
{
    Py_ssize_t count = Py_SIZE(et);
    PyObject *slots = et->ht_slots;
    PyObject *out = PyTuple_New(count);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyMemberDef *m = own_members(et) + i;
        Py_ssize_t found = -1;
        for (Py_ssize_t k = 0; slots && PyTuple_Check(slots) &&
                               k < PyTuple_GET_SIZE(slots) && found < 0;
             k++) {
            PyObject *name = PyTuple_GET_ITEM(slots, k);
            if (PyUnicode_Check(name)) {
                const char *text = PyUnicode_AsUTF8(name);
                if (!text) {
                    Py_DECREF(out);
                    return NULL;
                }
                if (!strcmp(text, m->name))
                    found = k;
            }
        }
        PyObject *entry = found < 0 ? NULL
                                    : Py_BuildValue("(nini)", found, m->type,
                                                    m->offset, m->flags);
        if (!entry) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, entry);
    }
    return out;
}

/* ------------------------------------------------------ making a class */

typedef struct image_view {
    Py_ssize_t base_index, basicsize, itemsize, dictoffset, weaklistoffset,
        vectorcall_offset;
    unsigned long flags;
    PyObject *ht_slots; /* borrowed, or NULL */
    PyObject *members;  /* borrowed tuple */
    int own_member_array;
    const unsigned char *refs;
    int has_doc;
    PyObject *others; /* borrowed tuple: REF_OTHER's (slot, i, slot) */
} image_view;

static int bad_image(const char *why)
{
    return pycds_fail(PYCDS_ERROR_VALUE, "class image: %s", why);
}

static int read_image(PyObject *image, PyObject *bases, image_view *v)
{
    if (!PyTuple_Check(image) || PyTuple_GET_SIZE(image) != IMAGE_FIELDS)
        return bad_image("not an image");
    PyObject *const *item = &PyTuple_GET_ITEM(image, 0);
    if (PyLong_AsLong(item[0]) != IMAGE_FORMAT)
        return PyErr_Occurred() ? -1 : bad_image("another format");
    v->base_index = PyLong_AsSsize_t(item[1]);
    v->basicsize = PyLong_AsSsize_t(item[2]);
    v->itemsize = PyLong_AsSsize_t(item[3]);
    v->flags = PyLong_AsUnsignedLong(item[4]);
    v->dictoffset = PyLong_AsSsize_t(item[5]);
    v->weaklistoffset = PyLong_AsSsize_t(item[6]);
    v->vectorcall_offset = PyLong_AsSsize_t(item[7]);
    if (PyErr_Occurred())
        return -1;
    v->ht_slots = item[8] == Py_None ? NULL : item[8];
    v->members = item[9];
    v->own_member_array = PyObject_IsTrue(item[10]);
    if (v->own_member_array < 0)
        return -1;
    if (!PyBytes_Check(item[11]) || PyBytes_GET_SIZE(item[11]) != SLOT_COUNT)
        return bad_image("slot references of another build");
    v->refs = (const unsigned char *)PyBytes_AS_STRING(item[11]);
    v->has_doc = PyObject_IsTrue(item[12]);
    if (v->has_doc < 0)
        return -1;
    v->others = item[13];
    if (!PyTuple_Check(v->others))
        return bad_image("other slots");
    if (v->base_index < 0 || v->base_index >= PyTuple_GET_SIZE(bases))
        return bad_image("no such base");
    if ((v->ht_slots && !PyTuple_Check(v->ht_slots)) ||
        !PyTuple_Check(v->members))
        return bad_image("members");
    PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(bases, v->base_index);
    if (v->basicsize < base->tp_basicsize || v->itemsize < 0)
        return bad_image("a layout smaller than its base's");
    return 0;
}

/* The members of the image, written into `et`'s own array. */
static int write_members(PyHeapTypeObject *et, const image_view *v)
{
    Py_ssize_t slot_count = v->ht_slots ? PyTuple_GET_SIZE(v->ht_slots) : 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v->members); i++) {
        Py_ssize_t index, offset;
        int type, flags;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(v->members, i), "nini", &index,
                              &type, &offset, &flags))
            return -1;
        if (index < 0 || index >= slot_count || offset < 0 ||
            offset + (Py_ssize_t)sizeof(PyObject *) > v->basicsize)
            return bad_image("a member out of place");
        PyObject *name = PyTuple_GET_ITEM(v->ht_slots, index);
        const char *text =
            PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (!text)
            return PyErr_Occurred() ? -1 : bad_image("a member's name");
        PyMemberDef *m = own_members(et) + i;
        m->name = text;
        m->type = type;
        m->offset = offset;
        m->flags = flags;
    }
    return 0;
}

/* tp_doc as type.__new__ makes it: a copy of a str __doc__ (a __doc__
 * set after the class was made is not in tp_doc: has_doc is false). */
static int write_doc(PyTypeObject *t, PyObject *dict, int has_doc)
{
    if (!has_doc)
        return 0;
    PyObject *doc = PyDict_GetItemString(dict, "__doc__");
    if (!doc || !PyUnicode_Check(doc))
        return bad_image("no __doc__ for its tp_doc");
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(doc, &size);
    if (!text)
        return -1;
    if ((size_t)size != strlen(text))
        return bad_image("a __doc__ with a NUL");
    char *copy = PyObject_Malloc((size_t)size + 1);
    if (!copy) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(copy, text, (size_t)size + 1);
    t->tp_doc = copy;
    return 0;
}

/* Everything type.__new__ sets before PyType_Ready, from the image. */
static int lay_out(PyHeapTypeObject *et, PyObject *name, PyObject *bases,
                   PyObject *dict, PyObject *qualname, const image_view *v)
{
    PyTypeObject *t = &et->ht_type;
    t->tp_as_async = &et->as_async;
    t->tp_as_number = &et->as_number;
    t->tp_as_sequence = &et->as_sequence;
    t->tp_as_mapping = &et->as_mapping;
    t->tp_as_buffer = &et->as_buffer;
    t->tp_basicsize = v->basicsize;
    t->tp_itemsize = v->itemsize;
    t->tp_flags = v->flags & ~READY_FLAGS;
    t->tp_dictoffset = v->dictoffset;
    t->tp_weaklistoffset = v->weaklistoffset;
    t->tp_vectorcall_offset = v->vectorcall_offset;
    t->tp_bases = Py_NewRef(bases);
    t->tp_base =
        (PyTypeObject *)Py_NewRef(PyTuple_GET_ITEM(bases, v->base_index));
    t->tp_dict = Py_NewRef(dict);
    et->ht_name = Py_NewRef(name);
    et->ht_qualname = Py_NewRef(qualname);
    et->ht_slots = Py_XNewRef(v->ht_slots);
    t->tp_name = PyUnicode_AsUTF8(name);
    if (!t->tp_name || write_doc(t, dict, v->has_doc) < 0 ||
        write_members(et, v) < 0)
        return -1;
    t->tp_members = v->own_member_array ? own_members(et) : NULL;
    for (size_t f = 0; f < SLOT_COUNT; f++) {
        if (!slot_fields[f].before_ready || (v->refs[f] & REF_MRO))
            /* (REF_OTHER too) */
            continue; /* PyType_Ready inherits it; written after */
        int ok;
        void *value = follow_slot(v->refs[f], f, NULL, NULL, &ok);
        if (!ok)
            return bad_image("a slot reference");
        write_slot(t, slot_fields[f], value);
    }
    return 0;
}

/* The class an image describes (pycds_class_from_image, uncounted: the
 * dump's check makes one too). */
static PyObject *make_from_image(PyTypeObject *meta, PyObject *name,
                                 PyObject *bases, PyObject *namespace,
                                 PyObject *image)
{
    image_view v = {0};
    if (read_probes() < 0 || read_image(image, bases, &v) < 0)
        return NULL;
    PyObject *qualname = PyDict_GetItemString(namespace, "__qualname__");
    if (!qualname || !PyUnicode_Check(qualname))
        return pycds_raise(PYCDS_ERROR_VALUE, "class image: no __qualname__");
    PyObject *dict = PyDict_Copy(namespace);
    if (!dict)
        return NULL;
    Py_INCREF(qualname); /* the dict's reference goes below */
    PyHeapTypeObject *et = NULL;
    if (PyDict_DelItemString(dict, "__qualname__") < 0)
        goto fail;
    et = (PyHeapTypeObject *)meta->tp_alloc(meta, PyTuple_GET_SIZE(v.members));
    if (!et || lay_out(et, name, bases, dict, qualname, &v) < 0 ||
        PyType_Ready(&et->ht_type) < 0)
        goto fail;
    PyTypeObject *t = &et->ht_type;
    for (size_t f = 0; f < SLOT_COUNT; f++) {
        int ok;
        void *value = follow_slot(v.refs[f], f, t->tp_mro, v.others, &ok);
        if (!ok) {
            bad_image("a slot reference");
            goto fail;
        }
        write_slot(t, slot_fields[f], value);
    }
    /* The image's flags (PyType_Ready inherits some that type.__new__
     * leaves out, HAVE_VECTORCALL), with PyType_Ready's own. */
    t->tp_flags = (v.flags & ~READY_FLAGS) | (t->tp_flags & READY_FLAGS);
    PyType_Modified(t);
    Py_DECREF(qualname);
    Py_DECREF(dict);
    return (PyObject *)et;
fail:
    if (et)
        pycds_discard_class((PyObject *)et);
    Py_DECREF(qualname);
    Py_DECREF(dict);
    return NULL;
}

static unsigned long made_from_images;

PyObject *pycds_class_from_image(PyTypeObject *meta, PyObject *name,
                                 PyObject *bases, PyObject *namespace,
                                 PyObject *image)
{
    PyObject *made = make_from_image(meta, name, bases, namespace, image);
    if (made)
        made_from_images++;
    return made;
}

/* -------------------------------------------------------- comparing */

static int add_difference(PyObject *out, PyObject *entry)
{
    int failed = !entry || PyList_Append(out, entry) < 0;
    Py_XDECREF(entry);
    return failed ? -1 : 0;
}

/* Whether the word at `offset` of two classes may differ: their own
 * storage (compared by content or position), caches and bookkeeping. */
static int same_word(PyHeapTypeObject *a, PyHeapTypeObject *b, size_t offset,
                     uintptr_t x, uintptr_t y)
{
    static const size_t by_content[] = {
        offsetof(PyObject, ob_refcnt),
        offsetof(PyTypeObject, tp_dict),
        offsetof(PyTypeObject, tp_mro),
        offsetof(PyTypeObject, tp_cache),
        offsetof(PyTypeObject, tp_subclasses),
        offsetof(PyTypeObject, tp_weaklist),
    };
    static const size_t own[] = {
        offsetof(PyTypeObject, tp_as_async),
        offsetof(PyTypeObject, tp_as_number),
        offsetof(PyTypeObject, tp_as_sequence),
        offsetof(PyTypeObject, tp_as_mapping),
        offsetof(PyTypeObject, tp_as_buffer),
        offsetof(PyTypeObject, tp_members),
    };
    if (x == y)
        return 1;
    for (size_t i = 0; i < sizeof by_content / sizeof *by_content; i++)
        if (offset == by_content[i])
            return 1;
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (offset == own[i])
            return x - (uintptr_t)a == y - (uintptr_t)b;
    /* The version tag's word, and those after tp_vectorcall (3.12's
     * tp_watched, 3.13's tp_versions_used): which caches know the class. */
    size_t tag = offsetof(PyTypeObject, tp_version_tag);
    if (offset == tag - tag % sizeof(void *) ||
        (offset > offsetof(PyTypeObject, tp_vectorcall) &&
         offset < sizeof(PyTypeObject)))
        return 1;
    if (offset == offsetof(PyTypeObject, tp_flags)) /* a version tag, or not */
        return ((x ^ y) & ~(uintptr_t)Py_TPFLAGS_VALID_VERSION_TAG) == 0;
    if (offset == offsetof(PyTypeObject, tp_name) ||
        offset == offsetof(PyTypeObject, tp_doc))
        return x && y && !strcmp((const char *)x, (const char *)y);
    if (offset == offsetof(PyHeapTypeObject, ht_name) ||
        offset == offsetof(PyHeapTypeObject, ht_qualname) ||
        offset == offsetof(PyHeapTypeObject, ht_slots)) {
        /* Equal strs and tuples of them (type.__new__ makes its own). */
        if (!x || !y)
            return 0;
        int equal =
            PyObject_RichCompareBool((PyObject *)x, (PyObject *)y, Py_EQ);
        if (equal < 0)
            PyErr_Clear();
        return equal == 1;
    }
    if (offset == offsetof(PyHeapTypeObject, ht_cached_keys))
        return x && y; /* made for each class alike */
    size_t spec = offsetof(PyHeapTypeObject, _spec_cache);
    return offset >= spec && offset < spec + sizeof a->_spec_cache;
}

static PyObject *differences(PyHeapTypeObject *a, PyHeapTypeObject *b)
{
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (size_t offset = 0; offset + sizeof(uintptr_t) <= sizeof *a;
         offset += sizeof(uintptr_t)) {
        uintptr_t x, y;
        memcpy(&x, (char *)a + offset, sizeof x);
        memcpy(&y, (char *)b + offset, sizeof y);
        if (!same_word(a, b, offset, x, y) &&
            add_difference(out, Py_BuildValue("(nkk)", (Py_ssize_t)offset,
                                              (unsigned long)x,
                                              (unsigned long)y)) < 0)
            goto fail;
    }
    for (Py_ssize_t i = 0; i < Py_SIZE(a) && Py_SIZE(a) == Py_SIZE(b); i++) {
        PyMemberDef *m = own_members(a) + i, *n = own_members(b) + i;
        if ((strcmp(m->name, n->name) || m->type != n->type ||
             m->offset != n->offset || m->flags != n->flags) &&
            add_difference(out, Py_BuildValue("(sn)", "member", i)) < 0)
            goto fail;
    }
    PyObject *ma = a->ht_type.tp_mro, *mb = b->ht_type.tp_mro;
    int same_mro = ma && mb && PyTuple_GET_SIZE(ma) == PyTuple_GET_SIZE(mb);
    for (Py_ssize_t i = 1; same_mro && i < PyTuple_GET_SIZE(ma); i++)
        same_mro = PyTuple_GET_ITEM(ma, i) == PyTuple_GET_ITEM(mb, i);
    if (!same_mro && add_difference(out, Py_BuildValue("(s)", "mro")) < 0)
        goto fail;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(b->ht_type.tp_dict, &pos, &key, &value)) {
        int has = PyDict_Contains(a->ht_type.tp_dict, key);
        if (has < 0 ||
            (!has &&
             add_difference(out, Py_BuildValue("(sO)", "dict", key)) < 0))
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyHeapTypeObject *python_class_arg(PyObject *arg)
{
    if (!PyType_Check(arg) ||
        !PyType_HasFeature((PyTypeObject *)arg, Py_TPFLAGS_HEAPTYPE)) {
        pycds_raise(PYCDS_ERROR_TYPE, "not a class made by Python code: %R",
                    arg);
        return NULL;
    }
    return (PyHeapTypeObject *)arg;
}

PyObject *pycds_class_differences(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2)
        return pycds_raise(PYCDS_ERROR_TYPE, "class_differences(a, b)");
    PyHeapTypeObject *a = python_class_arg(args[0]);
    PyHeapTypeObject *b = a ? python_class_arg(args[1]) : NULL;
    return b ? differences(a, b) : NULL;
}

/* ------------------------------------------------------ making images */

/* (f, i, g) when `value`, slot f of a class, is slot g of MRO[i]; NULL
 * (no exception) when no class of the MRO has it. */
static PyObject *name_other_slot(void *value, PyObject *mro, size_t f)
{
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(mro); i++)
        for (size_t g = 0; g < SLOT_COUNT; g++)
            if (read_slot((PyTypeObject *)PyTuple_GET_ITEM(mro, i),
                          slot_fields[g]) == value)
                return Py_BuildValue("(nnn)", (Py_ssize_t)f, i, (Py_ssize_t)g);
    return NULL;
}

/* The image of et, unchecked; NULL without an exception when a part of it
 * cannot be named (*why says which). */
static PyObject *describe(PyHeapTypeObject *et, PyObject **why)
{
    static const char *const GROUPS[] = {"",
                                         "tp_as_async",
                                         "tp_as_number",
                                         "tp_as_mapping",
                                         "tp_as_sequence",
                                         "tp_as_buffer"};
    PyTypeObject *t = &et->ht_type;
    if (t->tp_as_async != &et->as_async || t->tp_as_number != &et->as_number ||
        t->tp_as_sequence != &et->as_sequence ||
        t->tp_as_mapping != &et->as_mapping ||
        t->tp_as_buffer != &et->as_buffer || t->tp_methods || !t->tp_mro ||
        !t->tp_bases) {
        *why = PyUnicode_FromString("not laid out as type.__new__ lays out");
        return NULL;
    }
    if (t->tp_members && t->tp_members != own_members(et)) {
        *why = PyUnicode_FromString("members of its own");
        return NULL;
    }
    Py_ssize_t base_index = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t->tp_bases); i++)
        if (PyTuple_GET_ITEM(t->tp_bases, i) == (PyObject *)t->tp_base)
            base_index = i;
    if (base_index < 0) {
        *why = PyUnicode_FromString("a base not among its bases");
        return NULL;
    }
    unsigned char refs[SLOT_COUNT];
    PyObject *others = PyList_New(0);
    if (!others)
        return NULL;
    for (size_t f = 0; f < SLOT_COUNT; f++) {
        void *value = read_slot(t, slot_fields[f]);
        int ref = name_slot(value, f, t->tp_mro);
        if (ref < 0) {
            PyObject *other = name_other_slot(value, t->tp_mro, f);
            if (!other && PyErr_Occurred()) {
                Py_DECREF(others);
                return NULL;
            }
            if (other) {
                int failed = PyList_Append(others, other) < 0;
                Py_DECREF(other);
                if (failed) {
                    Py_DECREF(others);
                    return NULL;
                }
                ref = REF_OTHER;
            }
        }
        if (ref < 0) {
            Py_DECREF(others);
            slot_field field = slot_fields[f];
            *why = field.name
                       ? PyUnicode_FromFormat("%s not nameable", field.name)
                       : PyUnicode_FromFormat(
                             "%s word %d not nameable", GROUPS[field.group],
                             (int)(field.offset / sizeof(void *)));
            return NULL;
        }
        refs[f] = (unsigned char)ref;
    }
    PyObject *members = image_members(et);
    if (!members) {
        Py_DECREF(others);
        if (!PyErr_Occurred())
            *why = PyUnicode_FromString("a member not named by __slots__");
        return NULL;
    }
    PyObject *other_slots = PyList_AsTuple(others);
    Py_DECREF(others);
    if (!other_slots) {
        Py_DECREF(members);
        return NULL;
    }
    return Py_BuildValue(
        "(innnknnnONOy#ON)", IMAGE_FORMAT, base_index, t->tp_basicsize,
        t->tp_itemsize, t->tp_flags, t->tp_dictoffset, t->tp_weaklistoffset,
        t->tp_vectorcall_offset, et->ht_slots ? et->ht_slots : Py_None, members,
        t->tp_members ? Py_True : Py_False, (const char *)refs,
        (Py_ssize_t)SLOT_COUNT, t->tp_doc ? Py_True : Py_False, other_slots);
}

/* Why cls has no image: `why`, or the error of a check that failed
 * (memory errors propagate). */
static PyObject *not_imaged(PyObject *why)
{
    if (why || !PyErr_Occurred())
        return why ? why : PyUnicode_FromString("no image");
    if (PyErr_ExceptionMatches(PyExc_MemoryError))
        return NULL;
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return text ? text : PyUnicode_FromString("no image");
}

PyObject *pycds_class_image(PyObject *module, PyObject *const *args,
                            Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[1]))
        return pycds_raise(PYCDS_ERROR_TYPE, "class_image(cls, namespace)");
    PyHeapTypeObject *et = python_class_arg(args[0]);
    if (!et)
        return NULL;
    int made = pycds_made_by_type_new(&et->ht_type);
    if (made <= 0)
        return made < 0 ? NULL
                        : not_imaged(
                              PyUnicode_FromString("not made by type.__new__"));
    /* A metaclass with a finalizer would run it when the copy below is
     * discarded. */
    PyTypeObject *meta = Py_TYPE(et);
    if (meta->tp_finalize || meta->tp_del)
        return not_imaged(PyUnicode_FromString("a metaclass with __del__"));
    if (read_probes() < 0)
        return NULL;
    PyObject *why = NULL;
    PyObject *image = describe(et, &why);
    if (!image)
        return not_imaged(why);
    PyObject *copy = make_from_image(meta, et->ht_name, et->ht_type.tp_bases,
                                     args[1], image);
    if (!copy) {
        Py_DECREF(image);
        return not_imaged(NULL);
    }
    PyObject *found = differences(et, (PyHeapTypeObject *)copy);
    pycds_discard_class(copy);
    if (!found || PyList_GET_SIZE(found)) {
        Py_DECREF(image);
        if (found)
            why = PyUnicode_FromFormat("made from its image, it differs: %R",
                                       PyList_GET_ITEM(found, 0));
        Py_XDECREF(found);
        return not_imaged(why);
    }
    Py_DECREF(found);
    return image;
}

PyObject *pycds_class_image_count(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLong(made_from_images);
}
