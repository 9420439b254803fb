"""Find, for each stretch of a module body, the objects it created and the
changes it made to objects that existed before: by comparing, not from a
list of known registries.

Every object reachable from sys.modules is *known*, with an owner (the
module whose body created it, or "" for start-up) and a path from
sys.modules (pycds/_snapshot_schema.py).  Mutable ones are *tracked*: a
shallow fingerprint (their items, attributes, or for a C object its
gc referents) is kept, holding references so that no id is reused.  When a
stretch of a body ends (it finishes, or starts importing another module),
every fingerprint is compared with the object: a difference becomes
operations, and the new values are walked to find the new objects.  Cost:
one pass over the tracked objects per body boundary.

Runs in the planning interpreter before the traced bodies: imports only
built-in and start-up modules.
"""

from __future__ import annotations

import gc
import sys
from _collections import deque
from itertools import chain
from _abc import _get_dump
from _operator import is_

from . import _snapshot_objects as objects
from ._snapshot_restore import REPLAYED_STATE, _environ_data, expectation, shallow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._snapshot_schema import Operation, Path, Step, Value

FUNCTION_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__doc__",
                  "__name__", "__qualname__", "__module__")
# Never walked into or compared: a restored process has its own.
OPAQUE = {"_io.FileIO", "_io.BufferedReader", "_io.BufferedWriter",
          "_io.BufferedRandom", "_io.TextIOWrapper", "builtins.frame",
          "builtins.generator", "builtins.coroutine", "_thread._local"}
# C objects whose referents change as a cache fills: what a program can
# see of that is the cache's statistics and the identity of cached values,
# which the README names.  Their callable is walked, the cache is not.
CACHES = {"functools._lru_cache_wrapper"}
# An ABC's registry is compared through its class ("abc" entries); the
# rest of _abc_data is caches.
NOT_COMPARED = {"_abc._abc_data"}
# C types whose state is a number in the object, which gc does not show
# and repr does: a body drawing ids from another module's count() moves it.
STATE_IN_REPR = {"itertools.count", "itertools.repeat"}


def _advanced(obj: Any, snap: Any) -> int | None:
    """How many times next() moved a count() whose referents are as they
    were (a restore replays that many), or None."""
    if (objects.type_name(type(obj)) != "itertools.count"
            or not _unchanged_referents(obj, snap[0])):
        return None
    before, now = _count_fields(snap[1]), _count_fields(_c_state(obj))
    if before is None or now is None or before[1] != now[1] or not now[1]:
        return None
    steps = (now[0] - before[0]) / now[1]
    if steps != int(steps) or steps < 0 or before[0] + int(steps) * now[1] != now[0]:
        return None
    return int(steps)


def _count_fields(text: Any) -> tuple[Any, Any] | None:
    """(start, step) of a count's repr: 'count(5)' or 'count(5, 2)'."""
    if type(text) is not str or not text.startswith("count(") or not text.endswith(")"):
        return None
    parts = text[len("count("):-1].split(", ")
    try:
        values = [float(p) if "." in p or "e" in p else int(p) for p in parts]
    except ValueError:
        return None
    return (values[0], values[1] if len(values) > 1 else 1) if len(values) <= 2 else None


def _is_import_system_list(obj: Any) -> bool:
    """sys.meta_path, sys.path_hooks or sys.path: lists that hold another
    process's finders at restore (pycds's own in PathFinder's place), so
    that what they held is not compared (README lists it)."""
    return any(obj is getattr(sys, name, None) for name in ("meta_path", "path_hooks", "path"))


def _unchanged_referents(obj: Any, referents: tuple[Any, ...]) -> bool:
    current = gc.get_referents(obj)
    return len(current) == len(referents) and all(map(is_, referents, current))


def _c_state(obj: Any) -> Any:
    """What a C object holds besides its referents (STATE_IN_REPR)."""
    if objects.type_name(type(obj)) in STATE_IN_REPR:
        return repr(obj)
    return None
IMMUTABLE = {type(None), bool, int, float, complex, str, bytes, tuple,
             frozenset, type(objects._cell.__code__), range, slice}
# Values a restore copies or interns wherever they are used: sharing one
# with another module's objects is no dependency on that module.
ATOMS = {type(None), bool, int, float, complex, str, bytes}
NO_DICT = object()
# Attributes of a module's spec that the import system sets while and
# after it runs the body: its own, not a body's change.
IMPORT_BOOKKEEPING = {"_initializing", "_uninitialized_submodules"}
ABSENT = object()
# An operation's objects themselves (name, target, key, value), for the
# unit writer (pycds/_snapshot_unit.py): taken off before the plan is
# written as JSON.  A change the body made to what was there (an item or
# attribute set or deleted, a list's items moved) has a fifth: what was
# there before (restore.expectation), which a restore checks first.
LIVE = "_live"


class Entry:
    """A tracked aspect of an object: kind, the object, its snapshot."""
    __slots__ = ("kind", "obj", "snap")

    def __init__(self, kind: str, obj: Any, snap: Any) -> None:
        self.kind = kind
        self.obj = obj
        self.snap = snap


class Chunk:
    """Up to CHUNK entries of one kind and one fingerprint of them all,
    made and compared by C loops (chain, map, gc.get_referents): a stretch
    of a body compares every chunk, and entry by entry only the chunks
    that differ."""
    __slots__ = ("entries", "objs", "fingerprint")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.objs: list[Any] = []  # what the fingerprint reads, per entry
        self.fingerprint: Any = None

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.objs.append(entry.snap[0] if entry.kind == "attrs" else entry.obj)
        self.fingerprint = None

    def reread(self) -> None:
        """After entries were refreshed (an attrs dict may be another)."""
        self.objs = [e.snap[0] if e.kind == "attrs" else e.obj for e in self.entries]
        self.fingerprint = None


CHUNK = 256


def _fingerprint(kind: str, objs: list[Any]) -> Any:
    try:
        if kind == "dict" or kind == "attrs":
            return (tuple(map(len, objs)), tuple(chain.from_iterable(objs)),
                    tuple(chain.from_iterable(map(dict.values, objs))))
        if kind == "list" or kind == "set":
            return (tuple(map(len, objs)), tuple(chain.from_iterable(objs)))
        if kind == "abc":
            return (tuple(map(_abc_registry, objs)),)
        if kind == "klass":
            return (tuple(map(type, objs)),)
        if kind == "cstate":
            return (tuple(gc.get_referents(*objs)), tuple(map(_c_state, objs)))
        if kind == "items":
            return tuple(map(_own_items, objs))
        # Functions, classes, cells, slots: what gc sees.
        return (tuple(gc.get_referents(*objs)),)
    except RuntimeError:  # changed while read (a weak reference's callback)
        return ()


def _same(old: Any, new: Any) -> bool:
    if len(old) != len(new):
        return False
    for a, b in zip(old, new):
        if len(a) != len(b) or not all(map(is_, a, b)):
            if not (type(a[0] if a else None) is frozenset and a == b):
                return False
    return True


class Segment:
    """What one stretch of a body did."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self.new: list[Any] = []
        self.refusals: list[str] = []
        self.depends: set[str] = set()
        self.running_changed: set[str] = set()  # modules still running it changed


def _replayed_attributes(attrs: dict[Any, Any]) -> tuple[str, ...]:
    """The attributes of REPLAYED_STATE's modules that show their C state,
    if attrs is the namespace of one."""
    for name, hidden in REPLAYED_STATE.items():
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__dict__", None) is attrs:
            return hidden
    return ()


class Heap:
    def __init__(self, c_modules: set[str]) -> None:
        self.c_modules = c_modules
        self.known: dict[int, Any] = {}
        self.owner: dict[int, str] = {}
        self.parent: dict[int, tuple[int, Step]] = {}
        self.chunks: dict[str, list[Chunk]] = {}
        self.roots: dict[str, list[Any]] = {}   # claimed, not yet walked
        self.bookkeeping: dict[int, str] = {}   # module object id -> name
        self.failed: set[str] = set()           # modules whose body raised
        self.private: set[int] = set()          # the planner's own objects
        self.tracked: set[int] = set()          # ids with entries

    def hide(self, *objs: Any) -> None:
        """The planner's own objects (reachable from the hooks it installs):
        known, never walked into or compared."""
        for obj in objs:
            self.private.add(id(obj))
            self._know(obj, "", None, None)

    # -- discovery ---------------------------------------------------------

    def baseline(self) -> None:
        """Know everything reachable from sys.modules now, as start-up's."""
        modules = sys.modules
        self._know(modules, "", None, None)
        self.parent[id(sys)] = (0, ["module", "sys"])
        self.parent[id(modules)] = (id(sys), ["attr", "modules"])
        self._walk([modules], "", Segment())
        self._fingerprint_new()

    def claim(self, module: Any, name: str) -> None:
        """A module about to be executed: it and what import made for it
        belong to its own body, not to the importer's."""
        self.bookkeeping[id(module)] = name
        attrs = getattr(module, "__dict__", None)
        for obj in (module, attrs):
            if obj is not None and id(obj) not in self.known:
                self._know(obj, name, None, None)
                self.roots.setdefault(name, []).append(obj)
        self.parent[id(module)] = (0, ["module", name])
        if attrs is not None:
            self.parent[id(attrs)] = (id(module), ["attr", "__dict__"])

    def _know(self, obj: Any, owner: str, parent: Any, step: Step | None) -> None:
        self.known[id(obj)] = obj
        self.owner[id(obj)] = owner
        if parent is not None and step is not None:
            self.parent[id(obj)] = (id(parent), step)

    def _walk(self, roots: list[Any], owner: str, segment: Segment) -> None:
        """Know and track everything reachable from roots that is not known
        yet (roots too: those not known yet are owner's new objects)."""
        known = self.known
        stack: deque[Any] = deque()  # breadth first: short paths
        for root in roots:
            if id(root) not in known:
                self._know(root, owner, None, None)
                segment.new.append(root)
            elif self.owner[id(root)] != owner:
                if self.owner[id(root)] and type(root) not in ATOMS:
                    segment.depends.add(self.owner[id(root)])
                continue  # an existing object put somewhere: not walked
            stack.append(root)
        private = self.private
        while stack:
            obj = stack.popleft()
            if id(obj) in private:
                continue
            for step, child in self._children(obj):
                cid = id(child)
                if cid in known:
                    child_owner = self.owner[cid]
                    if (child_owner and child_owner != owner
                            and type(child) not in ATOMS):
                        segment.depends.add(child_owner)
                    continue
                self._know(child, owner, obj, step)
                if not objects.is_static(child):
                    segment.new.append(child)
                stack.append(child)
            self._track(obj)

    def _children(self, obj: Any) -> list[tuple[Step, Any]]:
        t = type(obj)
        if t is str or t is int or t is float or t is bool or obj is None:
            return []
        if obj is sys.modules:
            return [(["module", k], v) for k, v in list(obj.items())
                    if type(k) is str]
        if t is dict or (objects.is_a(obj, dict) and t.__module__ == "collections"):
            out: list[tuple[Step, Any]] = []
            hidden = _replayed_attributes(obj)
            for key, value in obj.items():
                if key in hidden:
                    continue
                out.append((_item_step(key), value))
                out.append((["key", _key_text(key)], key))
            return out
        if t is list or t is tuple:
            return [(["index", i], v) for i, v in enumerate(obj)]
        if t is set or t is frozenset:
            return [(["member", i], v) for i, v in enumerate(obj)]
        name = objects.type_name(t)
        if name in OPAQUE:
            return []
        if name == "_abc._abc_data":
            # Its registry and caches are sets of weak references whose
            # callback is _abc's _destroy, a method of the set: C state its
            # reviver rebuilds by replaying the registrations, not objects
            # of the body.  Only the classes they refer to are walked.
            classes = [ref() for s in gc.get_referents(obj) if type(s) is set
                       for ref in s]
            return [(["abc_member", i], c)
                    for i, c in enumerate(c for c in classes if c is not None)]
        if name in CACHES:
            wrapped = getattr(obj, "__wrapped__", None)
            return [(["attr", "__wrapped__"], wrapped)] if wrapped is not None else []
        out = []
        attrs = _attr_dict(obj)
        if attrs:  # an empty one may be made by asking (functions): skipped
            hidden = _replayed_attributes(attrs) if t is type(sys) else ()
            out.append((["attr", "__dict__"], attrs))
            out += [(["attr", k] if type(k) is str else _item_step(k), v)
                    for k, v in attrs.items() if k not in hidden]
        if t is type(sys) and getattr(obj, "__name__", None) in REPLAYED_STATE:
            return out  # its C state: what registrations put there (replayed)
        for i, ref in enumerate(gc.get_referents(obj)):
            if ref is not attrs:
                out.append((["referent", i], ref))
        return out

    def _track(self, obj: Any) -> None:
        t = type(obj)
        if t in IMMUTABLE or id(obj) in self.tracked:
            return
        self.tracked.add(id(obj))
        name = objects.type_name(t)
        if name in OPAQUE or name in CACHES:
            return
        entries = self  # entries.append files an entry in its kind's chunk
        if t is list or name == "collections.deque":
            entries.append(Entry("list", obj, tuple(obj)))
            return
        if t is set:
            entries.append(Entry("set", obj, tuple(obj)))
            return
        attrs = _attr_dict(obj)
        if objects.is_a(obj, (list, set)) or (objects.is_a(obj, dict) and attrs is not None):
            # A subclass of list or set, or of dict with attributes of its
            # own (one without is a dict, below): its items are compared
            # too (a registry a later body fills, matplotlib's interpd),
            # and a change to them is refused, not replayed (a restore
            # would go through the subclass's own methods).
            entries.append(Entry("items", obj, _own_items(obj)))
        if objects.is_a(obj, dict) and attrs is None:
            if self._is_attr_dict(obj):
                return  # compared with its owner
            entries.append(Entry("dict", obj, (tuple(obj), tuple(obj.values()))))
            return
        if attrs is not None:
            entries.append(Entry("attrs", obj, (attrs, tuple(attrs),
                                                tuple(attrs.values()))))
            if not objects.is_a(obj, type) and (t is type(sys) or objects.is_python_class(
                    t, self.c_modules)):
                # `obj.__class__ = Other` (a module made lazy this way too)
                entries.append(Entry("klass", obj, t))
        if objects.is_a(obj, type) and obj.__flags__ & objects.HEAPTYPE:
            entries.append(Entry("class", obj, (obj.__bases__, obj.__name__)))
            impl = attrs.get("_abc_impl") if attrs is not None else None
            if impl is not None and objects.type_name(type(impl)) == "_abc._abc_data":
                entries.append(Entry("abc", obj, _abc_registry(obj)))
            return
        if t is type(objects._cell):
            entries.append(Entry("func", obj, tuple(getattr(obj, a, None)
                                                    for a in FUNCTION_ATTRS)))
            return
        if t is type(objects._cell()):
            entries.append(Entry("cell", obj, _cell_contents(obj)))
            return
        if t in objects.PLAIN_TYPES:
            return
        if not objects.is_python_class(t, self.c_modules):
            if gc.is_tracked(obj) and name not in NOT_COMPARED:
                entries.append(Entry("cstate", obj, (tuple(gc.get_referents(obj)),
                                                     _c_state(obj))))
            return
        slots = _slot_names(t)
        if slots:
            entries.append(Entry("slots", obj, (slots, tuple(
                read_slot(obj, s) for s in slots))))

    def _is_attr_dict(self, d: dict[Any, Any]) -> bool:
        """A module's, class's or instance's __dict__ reached before its
        owner: its owner's "attrs" entry compares it."""
        parent = self.parent.get(id(d))
        return parent is not None and parent[1] == ["attr", "__dict__"]

    # -- comparison ---------------------------------------------------------

    def close(self, owner: str, running: set[str], record: bool = True) -> Segment:
        """End a stretch of owner's body: its changes to objects owned by
        others (none with record False), and the objects it created."""
        segment = Segment()
        changed: list[Any] = []
        for kind, chunks in self.chunks.items():
            for chunk in chunks:
                if chunk.fingerprint is None or _same(chunk.fingerprint,
                                                      _fingerprint(kind, chunk.objs)):
                    continue
                for entry in chunk.entries:
                    if _unchanged(entry):
                        continue
                    target_owner = self.owner.get(id(entry.obj), "")
                    fold = target_owner == owner or target_owner in running
                    found = self._diff(entry, segment, changed,
                                       record=record and not fold)
                    if found and target_owner and target_owner != owner:
                        segment.depends.add(target_owner)
                        if fold and record and not _submodules_only(entry):
                            # Kept by the running module's unit, as its
                            # body's end left them: run as code, it gets
                            # them only from this body (celery._state's
                            # finalizers, which celery.app.builtins adds).
                            segment.running_changed.add(target_owner)
                    _refresh(entry)
                chunk.reread()
        roots = self.roots.pop(owner, [])
        segment.new += roots
        self._walk(roots + changed, owner, segment)
        # Values in the operations that are new objects of this body: now
        # known, so they can be named.
        for op in segment.operations:
            value = op.get("value")
            if value is not None and value.get("kind") == "pending":
                obj = value.pop("obj")  # type: ignore[typeddict-item]
                op["value"] = self.value(obj)
        self._fingerprint_new()
        return segment

    def settle(self) -> None:
        """Take what changed since the last stretch as start-up's, no
        body's: the planner changed it itself between two bodies (sys.path,
        as the traced program did between its imports)."""
        self.close("", set(), record=False)

    def _fingerprint_new(self) -> None:
        for kind, chunks in self.chunks.items():
            for chunk in chunks:
                if chunk.fingerprint is None:
                    chunk.fingerprint = _fingerprint(kind, chunk.objs)

    def append(self, entry: Entry) -> None:
        """Track an entry: in the last chunk of its kind, or a new one."""
        chunks = self.chunks.setdefault(entry.kind, [])
        if not chunks or len(chunks[-1].entries) >= CHUNK:
            chunks.append(Chunk())
        chunks[-1].add(entry)

    def _diff(self, entry: Entry, segment: Segment, changed: list[Any],
              record: bool) -> bool:
        """Whether a change was found (import bookkeeping is none)."""
        kind, obj, snap = entry.kind, entry.obj, entry.snap
        ops: list[Operation] = []
        refusals = len(segment.refusals)
        target = self.path(obj)
        if self.parent.get(id(obj), (0, [""]))[1][-1] in IMPORT_BOOKKEEPING:
            return False
        if kind == "dict" or kind == "attrs":
            current = obj if kind == "dict" else _attr_dict(obj)
            keys, values = (snap[0], snap[1]) if kind == "dict" else (snap[1], snap[2])
            if current is None:
                segment.refusals.append(f"the __dict__ of {self.describe(obj)} was replaced")
                return
            old = dict(zip(keys, values))
            setter, deleter = (("set_item", "del_item") if kind == "dict"
                               else ("set_attr", "del_attr"))
            if (kind == "attrs" and objects.is_a(obj, type)
                    and obj.__flags__ & objects.IMMUTABLETYPE
                    and (len(current) != len(old) or any(
                        old.get(key, ABSENT) is not value for key, value in current.items()))):
                # C code wrote into the namespace of a type that Python
                # cannot change (numpy's add_docstring sets __doc__ of its
                # C types): no operation a restore makes can do it again.
                if record:
                    segment.refusals.append(f"changed the namespace of the immutable type "
                                            f"{self.describe(obj)}, as only C can")
                return True
            spec = objects.type_name(type(obj)) == "_frozen_importlib.ModuleSpec"
            for key, value in list(current.items()):
                if spec and key in IMPORT_BOOKKEEPING:
                    continue
                if key not in old or old[key] is not value:
                    self._changed(changed, obj, _item_step(key), value)
                    ops.append({"op": setter, "target": target,  # type: ignore[typeddict-item]
                                **_key_field(key), "value": self._pending(value),
                                LIVE: (setter, obj, key, value,
                                       expectation(old.get(key, ABSENT), ABSENT))})
            for key in old:
                if key not in current and not (spec and key in IMPORT_BOOKKEEPING):
                    was = expectation(old[key], ABSENT)
                    if kind == "dict" and obj is not _environ_data():
                        # The key may have been chosen by the dict's order
                        # (popitem(), the first key): replayed only onto
                        # the keys in the order the body found them (the
                        # environment's by name: its order is the
                        # process's, and a body unsets a variable by name).
                        was = ("order", tuple(map(shallow, keys)), was)
                    ops.append({"op": deleter, "target": target,  # type: ignore[typeddict-item]
                                **_key_field(key), LIVE: (deleter, obj, key, None, was)})
            if kind == "attrs" and current is not snap[0]:
                segment.refusals.append(f"the __dict__ of {self.describe(obj)} was replaced")
        elif kind == "list":
            ops += self._list_ops(obj, snap, target, changed, segment)
        elif kind == "set":
            old_ids = {id(v) for v in snap}
            new_ids = {id(v) for v in obj}
            for value in obj:
                if id(value) not in old_ids:
                    self._changed(changed, obj, ["member", 0], value)
                    ops.append({"op": "add", "target": target,
                                "value": self._pending(value),
                                LIVE: ("add", obj, None, value)})
            for value in snap:
                if id(value) not in new_ids:
                    ops.append({"op": "discard", "target": target,
                                "value": self.value(value),
                                LIVE: ("discard", obj, None, value)})
        elif kind == "func" or kind == "class" or kind == "cell" or kind == "slots":
            names = {"func": FUNCTION_ATTRS, "class": ("__bases__", "__name__"),
                     "cell": ("cell_contents",), "slots": snap[0] if kind == "slots" else ()}[kind]
            old_values = snap[1] if kind == "slots" else (
                (snap,) if kind == "cell" else snap)
            for attr, before in zip(names, old_values):
                now = getattr(obj, attr, ABSENT)
                if now is not before and not (kind == "class" and now == before):
                    if now is ABSENT:
                        ops.append({"op": "del_attr", "target": target, "key": attr,
                                    LIVE: ("delattr", obj, attr, None,
                                           expectation(before, ABSENT))})
                    else:
                        self._changed(changed, obj, ["attr", attr], now)
                        ops.append({"op": "set_attr", "target": target, "key": attr,
                                    "value": self._pending(now),
                                    LIVE: ("setattr", obj, attr, now,
                                           expectation(before, ABSENT))})
        elif kind == "klass":
            ops.append({"op": "set_attr", "target": target, "key": "__class__",
                        "value": self.value(type(obj)),
                        LIVE: ("setattr", obj, "__class__", type(obj))})
            self._changed(changed, obj, ["attr", "__class__"], type(obj))
        elif kind == "abc":
            before_set = snap
            for cls in _abc_registry(obj) - before_set:
                self._changed(changed, obj, ["abc_registry", 0], cls)
                ops.append({"op": "add", "target": target + [["abc_registry", 0]],
                            "value": self._pending(cls),
                            LIVE: ("abc_register", obj, None, cls)})
        elif kind == "items":
            if record:
                base = next(b for b in (dict, list, set) if objects.is_a(obj, b))
                segment.refusals.append(
                    f"changed the items of {self.describe(obj)} "
                    f"({objects.type_name(type(obj))}), an instance of a "
                    f"{base.__name__} subclass: not replayed")
            for value in _own_items(obj):
                self._changed(changed, obj, ["member", 0], value)
        elif kind == "cstate":
            steps = _advanced(obj, snap)
            if steps is not None:
                ops.append({"op": "advance", "target": target,
                            "value": {"kind": "literal", "repr": repr(steps)},
                            LIVE: ("advance", obj, None, steps,
                                   expectation(snap[1], ABSENT))})
            elif record:
                segment.refusals.append(
                    f"hidden C-level state of {self.describe(obj)} "
                    f"({objects.type_name(type(obj))}) changed")
            for i, ref in enumerate(gc.get_referents(obj)):
                self._changed(changed, obj, ["referent", i], ref)
        ops = [op for op in ops if not self._is_bookkeeping(op)]
        if record:
            segment.operations += ops
        # (changed items are a change whether or not it is recorded: a
        # running module's unit would keep them, as the attrs' ops)
        return bool(ops) or len(segment.refusals) > refusals or kind == "items"

    def _list_ops(self, obj: Any, old: tuple[Any, ...], target: Path,
                  changed: list[Any], segment: Segment) -> list[Operation]:
        new = list(obj)
        ops: list[Operation] = []
        # Appends are replayed onto the list the body saw: a function it
        # called may have appended only because of what the list held
        # (logging.basicConfig adds a handler to a root logger with none; a
        # registry skips what it holds already), which no read shows.
        had = (() if _is_import_system_list(obj) else
               (expectation([v for v in old if id(v) not in self.private], None),))
        if len(new) >= len(old) and all(map(is_, old, new)):
            for position, value in enumerate(new[len(old):], len(old)):
                self._changed(changed, obj, ["index", position], value)
                ops.append({"op": "append", "target": target,
                            "value": self._pending(value),
                            LIVE: ("append", obj, None, value, *had)})
            return ops
        # Items put before all the old ones (warnings.filterwarnings inserts
        # at 0, and removes an equal one first) or after them, each onto the
        # list the body saw (`had`, as above).
        for front in range(len(new) - len(old) + 1):
            if all(map(is_, old, new[front:front + len(old)])):
                for position, value in enumerate(new[:front]):
                    self._changed(changed, obj, ["index", position], value)
                    ops.append({"op": "insert", "target": target, "index": position,
                                "value": self._pending(value),
                                LIVE: ("insert", obj, position, value, *had)})
                for position, value in enumerate(new[front + len(old):], front + len(old)):
                    self._changed(changed, obj, ["index", position], value)
                    ops.append({"op": "append", "target": target,
                                "value": self._pending(value),
                                LIVE: ("append", obj, None, value, *had)})
                return ops
        was = expectation([v for v in old if id(v) not in self.private], ABSENT)
        # Insertions only: old is a subsequence of new.
        i = 0
        inserts: list[tuple[int, Any]] = []
        for position, value in enumerate(new):
            if i < len(old) and old[i] is value:
                i += 1
            else:
                inserts.append((position, value))
        if i == len(old):
            for position, value in inserts:
                self._changed(changed, obj, ["index", position], value)
                ops.append({"op": "insert", "target": target, "index": position,
                            "value": self._pending(value),
                            LIVE: ("insert", obj, position, value, was)})
            return ops
        # Removals only: new is a subsequence of old.
        j = 0
        removed: list[int] = []
        for position, value in enumerate(old):
            if j < len(new) and new[j] is value:
                j += 1
            else:
                removed.append(position)
        if j == len(new):
            for position in reversed(removed):
                ops.append({"op": "del_item", "target": target,
                            "key": str(position),
                            LIVE: ("del_item", obj, position, None, was)})
            return ops
        # Removals and insertions, the kept items in their order: delete,
        # then insert.
        new_ids = {id(v) for v in new}
        old_ids = {id(v) for v in old}
        kept_old = [id(v) for v in old if id(v) in new_ids]
        kept_new = [id(v) for v in new if id(v) in old_ids]
        if kept_old == kept_new:
            for position in reversed(range(len(old))):
                if id(old[position]) not in new_ids:
                    ops.append({"op": "del_item", "target": target,
                                "key": str(position),
                                LIVE: ("del_item", obj, position, None, was)})
            for position, value in enumerate(new):
                if id(value) not in old_ids:
                    self._changed(changed, obj, ["index", position], value)
                    ops.append({"op": "insert", "target": target,
                                "index": position, "value": self._pending(value),
                                LIVE: ("insert", obj, position, value, was)})
            return ops
        segment.refusals.append(
            f"{self.describe(obj)} reordered: not expressible as operations")
        for position, value in enumerate(new):
            self._changed(changed, obj, ["index", position], value)
        return ops

    def _changed(self, changed: list[Any], container: Any, step: Step,
                 value: Any) -> None:
        """A value put into an existing object: walked after the
        comparison; if new, named by where it was put."""
        if id(value) not in self.known:
            self.parent.setdefault(id(value), (id(container), step))
        changed.append(value)

    def _is_bookkeeping(self, op: Operation) -> bool:
        """sys.modules[name] = module and parent.child = module, which the
        import of that module does and a restore does itself, and the
        removal of a module whose import failed."""
        live = op.get(LIVE)  # type: ignore[misc]
        if op["op"] == "del_item":
            # The import system takes a module whose body raised out of
            # sys.modules, and so does a replayed import that fails again
            # (`try: from urllib3.contrib.socks import ...`).
            return live is not None and live[1] is sys.modules and live[2] in self.failed
        value = op.get("value")
        if value is None or value.get("kind") != "pending":
            return False
        obj = value.get("obj")  # type: ignore[typeddict-item]
        if (op["op"] == "set_attr" and live is not None and type(live[1]) is type(sys)
                and type(live[2]) is str and sys.modules.get(
                    f"{getattr(live[1], '__name__', '')}.{live[2]}") is obj):
            # parent.child = sys.modules["parent.child"], whatever module
            # that is (3.13's collections.abc puts _collections_abc there)
            return True
        name = self.bookkeeping.get(id(obj))
        if name is None:
            return False
        key = op.get("key", "")
        return (op["op"] == "set_item" and key == name) or (
            op["op"] == "set_attr" and key == name.rpartition(".")[2])

    # -- naming -------------------------------------------------------------

    def _pending(self, obj: Any) -> Value:
        """A value not walked yet: named after the walk."""
        return {"kind": "pending", "obj": obj}  # type: ignore[typeddict-item,typeddict-unknown-key]

    def value(self, obj: Any) -> Value:
        t = type(obj)
        if obj is None or t is bool or t is int or t is float or t is str:
            return {"kind": "literal", "repr": repr(obj)}
        owner = self.owner.get(id(obj), "")
        if id(obj) in self.known and owner:
            return {"kind": "new", "type": objects.type_name(t), "owner": owner,
                    "path": self.path(obj)}
        return {"kind": "path", "path": self.path(obj)}

    def path(self, obj: Any) -> Path:
        steps: list[Step] = []
        current = id(obj)
        for _ in range(64):
            link = self.parent.get(current)
            if link is None:
                break
            current, step = link
            steps.append(step)
            if step[0] == "module":
                break
        steps.reverse()
        return steps

    def describe(self, obj: Any) -> str:
        return _path_text(self.path(obj)) or objects.type_name(type(obj))


def _submodules_only(entry: Entry) -> bool:
    """Whether what changed in a module's namespace is the import system's
    only: its submodules set on it as their imports end (`pkg.sub`, when a
    sibling's body imported `pkg.sub` while pkg's body ran)."""
    if entry.kind != "dict":
        return False
    obj, (keys, values) = entry.obj, entry.snap
    name = obj.get("__name__")
    module = sys.modules.get(name) if type(name) is str else None
    if module is None or getattr(module, "__dict__", None) is not obj:
        return False
    old = dict(zip(keys, values))
    return all(key in obj for key in old) and all(
        (key in old and old[key] is value)
        or (type(key) is str and sys.modules.get(f"{name}.{key}") is value)
        for key, value in obj.items())


def _unchanged(entry: Entry) -> bool:
    kind, obj, snap = entry.kind, entry.obj, entry.snap
    if kind == "dict":
        return (len(obj) == len(snap[0]) and all(map(is_, snap[0], obj))
                and all(map(is_, snap[1], obj.values())))
    if kind == "attrs":
        current = _attr_dict(obj)
        return (current is snap[0] and len(current) == len(snap[1])
                and all(map(is_, snap[1], current))
                and all(map(is_, snap[2], current.values())))
    if kind == "list" or kind == "set":
        return len(obj) == len(snap) and all(map(is_, snap, obj))
    if kind == "func":
        return all(map(is_, snap, [getattr(obj, a, None) for a in FUNCTION_ATTRS]))
    if kind == "class":
        return obj.__bases__ is snap[0] and obj.__name__ == snap[1]
    if kind == "cell":
        return _cell_contents(obj) is snap
    if kind == "slots":
        return all(map(is_, snap[1], [read_slot(obj, s) for s in snap[0]]))
    if kind == "abc":
        return _abc_registry(obj) == snap
    if kind == "klass":
        return type(obj) is snap
    if kind == "cstate":
        return _unchanged_referents(obj, snap[0]) and _c_state(obj) == snap[1]
    if kind == "items":
        now = _own_items(obj)
        return len(now) == len(snap) and all(map(is_, snap, now))
    return True


def _refresh(entry: Entry) -> None:
    kind, obj = entry.kind, entry.obj
    if kind == "dict":
        entry.snap = (tuple(obj), tuple(obj.values()))
    elif kind == "attrs":
        attrs = _attr_dict(obj)
        entry.snap = (attrs, tuple(attrs or ()), tuple((attrs or {}).values()))
    elif kind == "list" or kind == "set":
        entry.snap = tuple(obj)
    elif kind == "func":
        entry.snap = tuple(getattr(obj, a, None) for a in FUNCTION_ATTRS)
    elif kind == "class":
        entry.snap = (obj.__bases__, obj.__name__)
    elif kind == "cell":
        entry.snap = _cell_contents(obj)
    elif kind == "slots":
        entry.snap = (entry.snap[0], tuple(read_slot(obj, s) for s in entry.snap[0]))
    elif kind == "abc":
        entry.snap = _abc_registry(obj)
    elif kind == "klass":
        entry.snap = type(obj)
    elif kind == "cstate":
        entry.snap = (tuple(gc.get_referents(obj)), _c_state(obj))
    elif kind == "items":
        entry.snap = _own_items(obj)


def _own_items(obj: Any) -> tuple[Any, ...]:
    """What an instance of a dict, list or set subclass holds as one (a
    dict's keys, then its values), read through the base type: no method
    of the subclass runs."""
    if objects.is_a(obj, dict):
        return (*dict.keys(obj), *dict.values(obj))
    if objects.is_a(obj, list):
        return tuple(list.copy(obj))
    return tuple(set.copy(obj))


def _attr_dict(obj: Any) -> dict[Any, Any] | None:
    """The dict behind obj's attributes: a class's real dict (not the
    mappingproxy), a module's or instance's __dict__; None if it has none."""
    if objects.is_a(obj, type):
        proxy = obj.__dict__
        referents = gc.get_referents(proxy)
        return referents[0] if referents and objects.is_a(referents[0], dict) else None
    t = type(obj)
    if t is dict or t is list or t is tuple or t is set or t is str:
        return None
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:  # a __dict__ property may raise anything
        return None
    return attrs if type(attrs) is dict else None


def _slot_names(t: type) -> tuple[str, ...]:
    names: list[str] = []
    for base in t.__mro__:
        slots = base.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names += [s for s in slots if s not in ("__dict__", "__weakref__")]
    return tuple(names)


def read_slot(obj: Any, name: str) -> Any:
    """A __slots__ member's value, read through its member descriptor: the
    object's own __getattribute__ (a proxy's, say werkzeug's LocalProxy)
    may run code or raise.  ABSENT when unset or not a plain member."""
    for base in type(obj).__mro__:
        descriptor = base.__dict__.get(name)
        if descriptor is None:
            continue
        if type(descriptor) is not _MEMBER_DESCRIPTOR:
            return ABSENT
        try:
            return descriptor.__get__(obj, type(obj))
        except AttributeError:
            return ABSENT
    return ABSENT


class _Slotted:
    __slots__ = ("member",)


_MEMBER_DESCRIPTOR = type(_Slotted.__dict__["member"])


def _cell_contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return ABSENT


def _abc_registry(cls: type) -> frozenset[type]:
    try:
        registry = _get_dump(cls)[0]
    except TypeError:
        return frozenset()
    return frozenset(r() for r in registry if r() is not None)


def _key_field(key: Any) -> dict[str, str]:
    return {"key": key} if type(key) is str else {"key_repr": _safe_repr(key)}


def _key_text(key: Any) -> str:
    return key if type(key) is str else _safe_repr(key)


def _item_step(key: Any) -> Step:
    return ["item", key] if type(key) is str else ["item_repr", _safe_repr(key)]


def _safe_repr(value: Any) -> str:
    t = type(value)
    if value is None or t in (bool, int, float, str, bytes) or (
            t is tuple and all(type(v) in (str, int) for v in value)):
        return repr(value)
    return f"<{objects.type_name(t)}>"


def _path_text(path: Path) -> str:
    text = ""
    for kind, arg in path:
        if kind == "module":
            text = str(arg)
        elif kind == "attr":
            text += f".{arg}"
        elif kind in ("item", "item_repr"):
            text += f"[{arg!r}]" if kind == "item" else f"[{arg}]"
        elif kind == "index":
            text += f"[{arg}]"
        else:
            text += f"<{kind} {arg}>"
    return text
