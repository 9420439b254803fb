/*
 * class_image.h - a class made from an image of its final words, for the
 * snapshot restore, instead of by type.__new__.
 *
 * type.__new__ spends most of its time in fixup_slot_dispatchers: for each
 * of about 67 slots it looks the slot's dunder up along the MRO.  The
 * planning interpreter knows the result (the class it made), so a unit can
 * carry it: the layout (sizes, offsets, flags, __slots__ members) and, for
 * every slot function, where the same function is found in the restoring
 * process (NULL, the same slot of a probe class, or the same slot of a
 * class of the MRO).  The class is then allocated, given that layout,
 * readied by PyType_Ready (the MRO, the descriptors of __dict__,
 * __weakref__ and __slots__, the place in the bases' __subclasses__()) and
 * given its slot functions.  No hook runs (__init_subclass__,
 * __set_name__): as for unit_class, the body's run did what they did.
 *
 * An image is made only after the same recipe, applied in the planning
 * interpreter, gave a class identical to the original word by word (the
 * copy is then discarded): what cannot be named or does not come out the
 * same keeps type.__new__.
 *
 * The image (IMAGE_FORMAT below) is a tuple of plain data, so that a unit's
 * pickle holds it: (format, base index, basicsize, itemsize, flags,
 * dictoffset, weaklistoffset, vectorcall_offset, ht_slots or None,
 * members ((index in ht_slots, type, offset, flags), ...), own member
 * array (bool), slot references (bytes, one per slot of class_image.c's
 * slot_fields), tp_doc from __doc__ (bool), other slots ((slot, MRO
 * index, its slot), ...): class_image.c says when).
 */
#ifndef PYCDS_CLASS_IMAGE_H
#define PYCDS_CLASS_IMAGE_H

#include "compat.h"

/* class_image(cls, namespace) -> image, or a str that says why there is
 * none: the image of cls, a class made by type.__new__, to be made again
 * from `namespace` (the part of its namespace a unit gives unit_class);
 * none when a slot cannot be named or the copy made from it differs from
 * cls.  Raises only on memory errors. */
PyObject *pycds_class_image(PyObject *module, PyObject *const *args,
                            Py_ssize_t nargs);

/* The class `image` describes, of metaclass `meta`, named `name`, with
 * `bases` and (a copy of) `namespace`; NULL with an exception when the
 * image does not fit them (nothing is left behind: no class half made is
 * among the bases' subclasses). */
PyObject *pycds_class_from_image(PyTypeObject *meta, PyObject *name,
                                 PyObject *bases, PyObject *namespace,
                                 PyObject *image);

/* class_differences(a, b) -> list: where two classes made by Python code
 * differ, as (field offset, a's word, b's word) or ("member", index) or
 * ("mro",) or ("dict", key); fields that name their own storage, caches
 * and bookkeeping (version tags, subclasses, the dict itself) are not
 * compared.  For tests, and for class_image's check. */
PyObject *pycds_class_differences(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs);

/* class_image_count() -> int: the classes this process made from images
 * (the checks class_image makes not counted). */
PyObject *pycds_class_image_count(PyObject *module, PyObject *unused);

#endif /* PYCDS_CLASS_IMAGE_H */
