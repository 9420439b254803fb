"""The snapshot plan's format, written down once.

`python -m pycds plan` runs the traced modules' bodies in a fresh
interpreter (pycds/_snapshot_child.py), which writes one RunRecord as JSON;
pycds/_snapshot_plan.py decides from it which modules can be units and
prints, or writes with --json, one Plan.  The later stage's writer reads a
Plan.  Every dict below is plain JSON: keys and values as annotated.

Naming an object.  An object that existed before a body ran is named by a
*path*, a list of steps from sys.modules, so that a restore can find it
again in a fresh process (V8's external-reference table):
    ["module", "logging"]          sys.modules["logging"]
    ["attr", "Logger"]             getattr(previous, "Logger")
    ["item", "root"]               previous["root"] (a str key)
    ["item_repr", "3"]             previous[key] for a key that is not a str:
                                   its repr
    ["index", 2]                   previous[2] of a list or tuple
    ["member", 0]                  the n-th member of a set/frozenset, in
                                   iteration order (not stable: informative)
    ["referent", 4]                the n-th of gc.get_referents(previous)
                                   (C-level state; informative only)
    ["key", "text"]                a dict's key object itself
    ["abc_registry", 0]            the classes registered with an ABC
                                   (ABC.register): "add" targets it
    ["abc_member", 1]              the n-th class an ABC's registry or
                                   caches refer to (informative only)
A value in an operation is a Value: {"kind": "path", "path": [...]} for an
object start-up made, {"kind": "new", "type": T, "owner": M, "path": [...]}
for an object that module M's body created (the path where it was first
found), or {"kind": "literal", "repr": R} for None, bool, int, float and
str (R is its repr).
"""

from __future__ import annotations

from typing import Literal, TypedDict, Union

PLAN_VERSION = 1

Step = list[Union[str, int]]
Path = list[Step]


class Value(TypedDict, total=False):
    kind: Literal["path", "new", "literal"]
    path: Path          # kind "path"; kind "new": where it was first found
    type: str           # kind "new": module.qualname of its type
    owner: str          # kind "new": the module whose body created it
    repr: str           # kind "literal"


class Operation(TypedDict, total=False):
    """One change a body made to an object that existed before it ran, in
    the order found (dict order, then list/set order within one object;
    across objects the order is that of the objects' discovery: a restore
    replays them in this order)."""
    op: Literal["set_item", "del_item", "set_attr", "del_attr",
                "append", "insert", "add", "discard"]
    target: Path
    key: str            # set/del_item: a str key; set/del_attr: the name;
                        # del_item of a list: the index, as text
    key_repr: str       # set/del_item: a key that is not a str, its repr
    index: int          # insert
    value: Value        # set_item, set_attr, append, insert, add, discard


class Binding(TypedDict):
    """An attribute of another module that the body took (`from json
    import dumps`, `dumps = json.dumps`): at restore it must still be the
    same object."""
    module: str         # where it was taken from
    attribute: str
    bound_as: str       # the name in the importing module ("*" for star)
    identity: Value     # what it was


class Inputs(TypedDict):
    """What a body read."""
    env: dict[str, Union[str, None]]   # name -> value read, None if absent
    env_listed: bool                    # iterated os.environ (all names)
    opened: list[str]                   # files opened for reading
    stat: dict[str, bool]               # path -> existed when stat'ed
    stat_full: list[str]                # of those, stat'ed for more than their
                                        # kind (KIND_ONLY's callers are not)
    listed: list[str]                   # directories listed or scanned
    argv_read: bool                     # read sys.argv, orig_argv, _xoptions


class ProcessInputs(TypedDict):
    """Inputs of every body, recorded once for the run."""
    argv: list[str]
    flags: dict[str, int]
    path: list[str]
    locale: str            # LC_ALL as setlocale(LC_ALL) reports it
    encoding: str          # the locale's encoding (locale.getencoding)
    executable: str
    version: str


class ModuleRecord(TypedDict):
    """What the fresh interpreter saw while one module was imported."""
    name: str
    kind: Literal["body", "extension", "startup", "failed"]
    error: str                           # kind "failed": the exception
    inputs: Inputs
    operations: list[Operation]
    bindings: list[Binding]
    objects: dict[str, int]              # type name -> count of new objects
    revivable: dict[str, int]            # C type name -> count (revivers)
    refused: dict[str, int]              # type name -> count of refused objects
    refusals: list[str]                  # distinct reasons, first found first
    opted_out: bool                      # `__pycds_snapshot__ = False`
    depends: list[str]                   # modules its objects/ops refer to,
                                         # that it imported or bound from
    seconds: float                       # the body's wall time (plan cost
                                         # excluded)


class RunRecord(TypedDict):
    """What pycds/_snapshot_child.py writes."""
    version: int
    process: ProcessInputs
    modules: list[ModuleRecord]
    recording_seconds: float             # time spent recording, not in bodies


class ModulePlan(TypedDict):
    name: str
    decision: Literal["unit", "code", "extension", "startup"]
    reason: str        # decision "code": the one (first) reason; else ""
    record: ModuleRecord


class Plan(TypedDict):
    version: int
    process: ProcessInputs
    modules: list[ModulePlan]
    units: int
    code_only: int
    objects_by_class: dict[str, int]     # plain / revivable / refused
    objects_by_type: dict[str, int]
    seconds: float                       # the whole planning run
