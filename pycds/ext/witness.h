/*
 * witness.h - how a snapshot unit names what existed before its body ran,
 * and what must still hold of it: a path from sys.modules and a witness.
 * One definition, for the dump (pycds/_snapshot_unit.py,
 * _snapshot_child.py) and the restore (pycds/_snapshot_restore.py).
 *
 * A witness is a tuple: (type name, None) for most objects, where the type
 * name is "MODULE.QUALNAME" of the object's type; (type name, qualname,
 * code file, first line) for a Python function (a replacement made with
 * functools.wraps has another code); (type name, qualname, (name of the
 * C type its instances are laid out as, basicsize, itemsize)) for a class;
 * (type name, qualname) for a C function or method descriptor; (type name,
 * qualname, the witness of the object it is bound to) for a C method bound
 * to an object that is neither a module nor a class (("re.Pattern", pattern,
 * flags) for a compiled pattern's); (type name, its __name__) for a module.
 */
#ifndef PYCDS_WITNESS_H
#define PYCDS_WITNESS_H

#include "compat.h"

/* witness(obj) -> tuple (above). */
PyObject *pycds_witness(PyObject *module, PyObject *obj);

/* resolve(path, step) -> the object a path names (below); the exception
 * of the step that failed. */
PyObject *pycds_resolve(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs);

/* resolve_externals(entries, memo, checked, step) -> None, or (index,
 * found) for the first entry that fails: each entry of `entries` is
 * (path, witness), a path a tuple of (kind, argument) steps; its object is
 * found and appended to the list `memo` when witness(object) equals the
 * entry's.  found is False when the path leads nowhere (a KeyError,
 * IndexError, AttributeError or TypeError on the way), True when the
 * object is not what it was.  `checked` is a dict that keeps what was
 * learnt of objects already compared (their witnesses, digests, hashes)
 * across calls, in a table of pycds's own under one key, holding each
 * object (so that no address is reused) until the dict is emptied.  Steps:
 * "module" (sys.modules[argument]), "attr" of a module or class (its own
 * namespace, no descriptor, no __getattr__), "item"/"index" of a dict, list or
 * tuple; any other step is step(object, kind, argument), a Python function. */
PyObject *pycds_resolve_externals(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs);

/* matches_witness(obj, witness, checked) -> bool: witness(obj) equals
 * `witness`, remembered in `checked` as resolve_externals remembers it. */
PyObject *pycds_matches_witness(PyObject *module, PyObject *const *args,
                                Py_ssize_t nargs);

/* shallow(value) -> a plain value's form, else its witness: what a digest
 * holds of each item it looks at.  The form is ("=", value) where ==
 * tells values apart (None, int, str, bytes), ("=bool", value), and
 * ("=float", bits) or ("=complex", bits): a nan matches itself, -0.0 does
 * not match 0.0, True does not match 1. */
PyObject *pycds_shallow(PyObject *module, PyObject *value);

/* digest(value) -> what a body may have read of another module's
 * attribute, so that a program that changed it first is seen: a plain
 * value's shallow() form; a dict's, list's, tuple's or set's (type name,
 * length) when it has more items than are left of 4,096 (counted over
 * the containers inside it too), else (type name, length,
 * XXH3-128 of its items' shallow() forms, 16 bytes; a set's in any
 * order; an item that is a container by its own such digest, one level
 * further, its items' by shallow()); a class's or function's witness,
 * or ("=state", witness, XXH3-128 of its state) where it has state (a
 * class: its and its non-static bases' attributes, one level; a function:
 * its cells' contents, as a module attribute's, its defaults and keyword
 * defaults); an object with a __dict__ of at most 64 attributes (not a
 * module), (witness, ((name, shallow form), ...)); else the witness.
 * `stand_ins` ({id: witness}, optional): objects the dumping process put
 * in the place of others (the planner's wrappers), whose items are
 * written with the witness of what they stand for.  `substitutes` ({id:
 * object}, optional): a container read as another (a copy), a class's or
 * instance's attributes as a dict: what a unit's operations will leave. */
PyObject *pycds_digest(PyObject *module, PyObject *const *args,
                       Py_ssize_t nargs);

/* check_reads(bindings, reads, checked) -> None, or (0 or 1, index) for
 * the first binding or read that no longer holds: each is (module,
 * attribute, digest); the module's attribute now must be there, and have
 * the plain value of a binding (its shallow() form) or match its witness,
 * or match a read's digest (a module by witness; a function or class by
 * witness and state).
 * `checked` remembers witnesses across calls, for the process's life. */
PyObject *pycds_check_reads(PyObject *module, PyObject *const *args,
                            Py_ssize_t nargs);

/* digest_hash(digest) -> int: the XXH3-64 of a digest (as the class
 * states hash it), what a unit keeps of most reads instead of the digest. */
PyObject *pycds_digest_hash(PyObject *module, PyObject *digest);

/* namespace_hashes() -> int: how many class namespaces the checks have
 * hashed in this process (the others a read needed were remembered). */
PyObject *pycds_namespace_hashes(PyObject *module, PyObject *unused);

/* memo_after_code(checked) -> bool: code other than the restore's may
 * have run; whether it changed a part of a function, class or instance
 * that the checks read and no stamp renews.  If so, what `checked`
 * remembers of classes' namespaces and of containers' and instances'
 * digests no longer holds; witnesses, code hashes and steady values'
 * hashes stay. */
PyObject *pycds_memo_after_code(PyObject *module, PyObject *checked);

/* check_hashed_reads(groups, checked) -> None, or (group, index) of the
 * first read that no longer holds: each group is (module, (attribute,
 * ...), hashes), the hashes 8 bytes each, little-endian, of the digests
 * the body read; each attribute must be there now (read_value) and its
 * digest (as check_reads compares a read's) hash the same.  A plain value's,
 * static type's or module function's hash is remembered in `checked` by
 * identity: the same object, the same digest. */
PyObject *pycds_check_hashed_reads(PyObject *module, PyObject *const *args,
                                   Py_ssize_t nargs);

/* read_value(module, name, default) -> what a read names now: module's
 * attribute `name`, or with dots in it ("Token.Text") the attribute of
 * that attribute through each instance's __dict__, as check_hashed_reads
 * finds it; `default` when there is none. */
PyObject *pycds_read_value(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

/* check_same(same, memo) -> None, or the index of the first entry of
 * `same` ((module, read name, memo index), H_SAME) whose read no longer
 * finds the very object memo[index]: a unit keeps it under another path
 * than the one its body read it by. */
PyObject *pycds_check_same(PyObject *module, PyObject *const *args,
                           Py_ssize_t nargs);

#endif /* PYCDS_WITNESS_H */
