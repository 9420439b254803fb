"""Classes made from images (pycds/ext/class_image.h): a snapshot unit's
class made without type.__new__ is the class type.__new__ makes, word for
word and in behaviour; what cannot be imaged says why; an image that does
not fit leaves type.__new__ to make the class and nothing behind."""

from __future__ import annotations

import abc
import gc
import re
import weakref
from typing import Any, Callable

import pytest

from pycds import _cds
from test_snapshot_restore import same_as_plain, snapshot_project

# What a unit gives unit_class of a class (pycds/_snapshot_unit.py: the
# creation keys and the functions, the rest is filled later).
CREATION_KEYS = {"__module__", "__qualname__", "__doc__", "__slots__",
                 "__annotations__", "__firstlineno__", "__static_attributes__"}
FUNCTION_TYPES = (type(lambda: 0), classmethod, staticmethod, property)


def namespace_of(cls: type) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__qualname__": cls.__qualname__}
    for key, value in cls.__dict__.items():
        if getattr(value, "__objclass__", None) is cls:
            continue  # __dict__, __weakref__, a slot: PyType_Ready makes them
        if key in CREATION_KEYS or (isinstance(value, FUNCTION_TYPES)
                                    and not key.startswith("_abc")):
            namespace[key] = value
    return namespace


def made_again(cls: type) -> type:
    """cls made again from its image, checked word by word."""
    namespace = namespace_of(cls)
    image = _cds.class_image(cls, namespace)
    assert type(image) is tuple, image
    before = _cds.class_image_count()
    made = _cds.unit_class(type(cls), cls.__name__, cls.__bases__, namespace, image)
    assert _cds.class_image_count() == before + 1
    assert _cds.class_differences(cls, made) == []
    assert made.__mro__[1:] == cls.__mro__[1:]
    return made


# -- the shapes -------------------------------------------------------------

class Plain:
    """A docstring."""
    x = 1

    def method(self) -> int:
        return 2


class Slotted:
    __slots__ = ("a", "b")


class SlotsAndDict:
    __slots__ = ("a", "__dict__", "__weakref__")


class Operators:
    def __init__(self, v: int = 3) -> None:
        self.v = v

    def __add__(self, other: Any) -> Any: return ("add", other)
    def __radd__(self, other: Any) -> Any: return ("radd", other)
    def __iadd__(self, other: Any) -> Any: return ("iadd", other)
    def __matmul__(self, other: Any) -> Any: return ("matmul", other)
    def __neg__(self) -> Any: return "neg"
    def __lt__(self, other: Any) -> bool: return True
    def __len__(self) -> int: return 7
    def __getitem__(self, key: Any) -> Any: return ("item", key)
    def __setitem__(self, key: Any, value: Any) -> None: self.v = (key, value)
    def __contains__(self, key: Any) -> bool: return key == "in"
    def __iter__(self) -> Any: return iter((1, 2))
    def __call__(self, *args: Any) -> Any: return ("call", args)
    def __repr__(self) -> str: return "<Operators>"
    def __index__(self) -> int: return 5
    def __bool__(self) -> bool: return False
    def __hash__(self) -> int: return 11


class Hook:
    def __getattr__(self, name: str) -> str:
        return "hook:" + name


class EqualOnly:
    def __eq__(self, other: object) -> bool:
        return True


class Descriptor:
    def __get__(self, obj: Any, owner: Any = None) -> str:
        return "got"

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["seen"] = value


class MyInt(int):
    def __repr__(self) -> str:
        return "MyInt"


class MyDict(dict):
    def __missing__(self, key: Any) -> str:
        return "missing"


class MyTuple(tuple):
    __slots__ = ()


class MyError(ValueError):
    pass


class Abstract(abc.ABC):
    @abc.abstractmethod
    def f(self) -> None: ...


class Child(Plain, Hook):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.hooked = True  # type: ignore[attr-defined]


SHAPES = [Plain, Slotted, SlotsAndDict, Operators, Hook, EqualOnly, Descriptor,
          MyInt, MyDict, MyTuple, MyError, Abstract, Child]


@pytest.mark.parametrize("cls", SHAPES, ids=lambda c: c.__name__)
def test_made_from_its_image_is_the_same_class(cls: type) -> None:
    made = made_again(cls)
    assert made in cls.__base__.__subclasses__()
    assert made.__doc__ == cls.__doc__ and made.__name__ == cls.__name__
    assert made.__qualname__ == cls.__qualname__
    valid_version_tag = 1 << 19  # whether a cache has asked yet
    assert made.__flags__ & ~valid_version_tag == cls.__flags__ & ~valid_version_tag


def behaviour(cls: type) -> list[Any]:
    """What a program sees of a few shapes' instances."""
    out: list[Any] = []
    if cls.__name__ == "Operators":
        o = cls()
        out += [o + 1, 1 + o, o @ 2, -o, o < o, len(o), o[3], "in" in o,
                list(o), o(1), repr(o), [10, 20, 30, 40, 50, 60][o], bool(o),
                hash(o)]
        o[1] = 2
        out.append(o.v)
        o += 1
        out.append(o)
    elif cls.__name__ == "Hook":
        out.append(cls().anything)
    elif cls.__name__ == "EqualOnly":
        out.append(cls() == 5)
        with pytest.raises(TypeError):
            hash(cls())
    elif cls.__name__ == "Slotted":
        s = cls()
        s.a = 1
        out.append(s.a)
        with pytest.raises(AttributeError):
            s.c = 1  # type: ignore[attr-defined]
    elif cls.__name__ == "SlotsAndDict":
        s = cls()
        s.a, s.other = 1, 2
        out += [s.a, s.other, weakref.ref(s)() is s]
    elif cls.__name__ == "MyInt":
        out += [repr(cls(4)), cls(4) + 1]
    elif cls.__name__ == "MyDict":
        out.append(cls(a=1)["b"])
    elif cls.__name__ == "Descriptor":
        holder = type("Holder", (), {"d": cls()})()
        holder.d = 5
        out += [holder.d, holder.__dict__["seen"]]
    return out


@pytest.mark.parametrize("cls", [Operators, Hook, EqualOnly, Slotted, SlotsAndDict,
                                 MyInt, MyDict, Descriptor], ids=lambda c: c.__name__)
def test_made_from_its_image_behaves_the_same(cls: type) -> None:
    made = made_again(cls)
    for key, value in cls.__dict__.items():  # the rest of the namespace
        if key not in made.__dict__:
            setattr(made, key, value)
    assert behaviour(made) == behaviour(cls)


def test_abc_instances_and_errors() -> None:
    made = made_again(MyError)
    with pytest.raises(ValueError, match="boom"):
        raise made("boom")
    assert issubclass(made_again(Abstract), abc.ABC)


def test_no_probe_class_stays_among_object_subclasses() -> None:
    made_again(Plain)  # the probes are made by then
    assert not [c for c in object.__subclasses__() if c.__name__ == "_pycds_probe"]


def test_doc_set_after_the_class_was_made_has_no_image() -> None:
    class Late:
        """first"""
    Late.__doc__ = "second"  # tp_doc keeps "first"
    why = _cds.class_image(Late, namespace_of(Late))
    assert type(why) is str and "differs" in why


def test_a_class_made_by_c_has_no_image() -> None:
    import _csv
    why = _cds.class_image(_csv.Dialect, {"__qualname__": "Dialect"})
    assert why == "not made by type.__new__"


def corrupted(image: tuple[Any, ...], at: int, value: Any) -> tuple[Any, ...]:
    return image[:at] + (value,) + image[at + 1:]


def mro_reference_out_of_reach(image: tuple[Any, ...]) -> tuple[Any, ...]:
    refs = bytearray(image[11])
    refs[0] = 0x80 | 100  # tp_dealloc: MRO[100]
    return corrupted(image, 11, bytes(refs))


BAD_IMAGES: dict[str, Callable[[tuple[Any, ...]], Any]] = {
    "format": lambda image: corrupted(image, 0, 99),
    "base": lambda image: corrupted(image, 1, 5),
    "references": lambda image: corrupted(image, 11, b"\x01"),
    "mro": mro_reference_out_of_reach,
    "member": lambda image: corrupted(image, 9, ((9, 16, 16, 0),)),
    "shape": lambda image: image[:5],
    "size": lambda image: corrupted(image, 2, 8),
}


@pytest.mark.parametrize("damage", sorted(BAD_IMAGES))
def test_an_image_that_does_not_fit_leaves_type_new_to_make_it(damage: str) -> None:
    namespace = namespace_of(Slotted)
    image = _cds.class_image(Slotted, namespace)
    before = _cds.class_image_count()
    made = _cds.unit_class(type, "Slotted", Slotted.__bases__, namespace,
                           BAD_IMAGES[damage](image))
    assert _cds.class_image_count() == before  # type.__new__ made it
    assert _cds.class_differences(Slotted, made) == []
    gc.collect()  # what was left of a half-made class would be collected
    left = [c for c in object.__subclasses__() if c.__name__ == "Slotted"]
    assert sorted(map(id, left)) == sorted(map(id, [Slotted, made]))


# -- in a snapshot ------------------------------------------------------------

SHAPES_MODULE = '''
import abc, enum, dataclasses, typing

class Base:
    """doc"""
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Base.registry.append(cls.__name__)
    registry = []

class Vector(Base):
    __slots__ = ("x", "y")
    def __init__(self, x, y): self.x, self.y = x, y
    def __add__(self, o): return Vector(self.x + o.x, self.y + o.y)
    def __eq__(self, o): return (self.x, self.y) == (o.x, o.y)
    def __repr__(self): return f"Vector({self.x}, {self.y})"

class Lazy(Base):
    def __getattr__(self, name): return name.upper()

class Color(enum.Enum):
    RED = 1
    BLUE = 2

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 0

class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self): ...

class Square(Shape):
    def area(self): return 4

class Pair(typing.NamedTuple):
    a: int
    b: str

class Error(LookupError):
    pass
'''

SHAPES_APP = '''
import sys
import shapes
from pycds import _cds
v = shapes.Vector(1, 2) + shapes.Vector(3, 4)
print("VECTOR:", v, v == shapes.Vector(4, 6), hash(shapes.Vector) is not None)
try:
    hash(v)
except TypeError as e:
    print("VECTOR:", "unhashable", e)
print("LAZY:", shapes.Lazy().name)
print("REGISTRY:", shapes.Base.registry, shapes.Base.__subclasses__())
print("ENUM:", list(shapes.Color), shapes.Color(2), shapes.Color["RED"].value)
print("POINT:", shapes.Point(1), shapes.Point(1) == shapes.Point(1, 0), hash(shapes.Point(2)) == hash(shapes.Point(2)))
print("ABC:", shapes.Square().area(), isinstance(shapes.Square(), shapes.Shape))
try:
    shapes.Shape()
except TypeError as e:
    print("ABC:", e)
print("PAIR:", shapes.Pair(1, "b"), shapes.Pair._fields)
print("ERROR:", issubclass(shapes.Error, LookupError), shapes.Error.__mro__)
print("images", _cds.class_image_count(), file=sys.stderr)
'''


def test_restored_classes_are_made_from_images_and_behave_as_plain(tmp_path: Any) -> None:
    snap = snapshot_project(tmp_path, {"shapes.py": SHAPES_MODULE, "app.py": SHAPES_APP},
                            ["app.py"])
    same_as_plain(snap, "shapes")
    share = snap.share(["app.py"])
    made = int(re.search(r"^images (\d+)$", share.stderr, re.M).group(1))
    assert made >= 8, share.stderr  # shapes' classes, not type.__new__'s


# -- the rest of a class's namespace (pycds/ext/classes.h) --------------------

def test_put_in_order_puts_keys_of_order_first() -> None:
    namespace = {"c": 3, "a": 1, "extra": 9, "b": 2}
    _cds.put_in_order(namespace, ["a", "b", "c"])
    assert list(namespace.items()) == [("a", 1), ("b", 2), ("c", 3), ("extra", 9)]
    with pytest.raises(KeyError):
        _cds.put_in_order(namespace, ["a", "missing"])
    with pytest.raises(TypeError):
        _cds.put_in_order(namespace, ("a",))


def test_fill_class_sets_the_rest_in_order_and_the_slots_behind_dunders() -> None:
    made = made_again(EqualOnly)  # its __hash__ = None is set later
    order = list(EqualOnly.__dict__)
    later = [(k, v) for k, v in EqualOnly.__dict__.items() if k not in made.__dict__]
    later.append(("__repr__", lambda self: "repr!"))
    order.append("__repr__")
    _cds.fill_class(made, (order, later, None, None, 0), None, {"__doc__", "__module__"})
    assert list(made.__dict__) == order
    assert repr(made()) == "repr!"  # the slot follows the dunder
    with pytest.raises(TypeError):
        hash(made())
    with pytest.raises(TypeError):
        _cds.fill_class(made, (order,), None, set())
    with pytest.raises(TypeError):
        _cds.fill_class(int, (order, later, None, None, 0), None, set())
