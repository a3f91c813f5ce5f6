"""Typed records from parsed TOML, JSON or YAML: the one validator for every file blogtools reads.

A record is a dataclass whose annotations say what each key holds (``str``, ``int``,
``datetime``, ``X | None``, ``list[str]``, ``tuple[str, ...]``, ``tuple[int, int]``,
``dict[str, Record]`` or another record; a tuple is read from a list); ``load`` checks
a mapping against them and builds the record, or raises ``RecordError`` naming the first key that
is unknown, missing or of the wrong type. Checks a type cannot say go in ``__post_init__``, which
raises ``RecordError`` too. (Material's blog plugin declares its settings the same way, as typed
config classes, instead of validating them by hand.)
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date, datetime, timezone

#: Field metadata: a lone string is accepted as a one-item list (``authors: Alice``).
ONE_OR_MANY = {"one_or_many": True}
_KINDS = {str: "a string", int: "an integer", bool: "true or false", datetime: "an ISO 8601 date"}


class RecordError(ValueError):
    """A mapping that is not a valid record; the message names the key and the problem."""


def load(cls: type, data: object):
    """``data`` (a mapping from a parser) as a ``cls`` record; RecordError when it does not fit."""
    if not isinstance(data, dict):
        raise RecordError(f"must be a mapping, not {_kind_of(data)}")
    fields, hints, required = _schema(cls)
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise RecordError(f"unknown key {unknown[0]!r} (known: {', '.join(fields)})")
    values = {name: _value(hints[name], data[name], repr(name), fields[name].metadata)
              for name in fields if name in data}
    missing = [name for name in required if name not in data]
    if missing:
        raise RecordError(f"{missing[0]!r} is missing")
    return cls(**values)


@functools.cache
def _schema(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, object], list[str]]:
    """A record class's fields by name, their resolved annotations and the required ones."""
    fields = {spec.name: spec for spec in dataclasses.fields(cls)}
    required = [name for name, spec in fields.items()
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING]
    return fields, typing.get_type_hints(cls), required


def _value(hint, value, where: str, metadata=None):
    """``value`` checked (and converted where the type says so) against the annotation ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [arg for arg in args if arg is not type(None)]
        return _value(hint, value, where, metadata)
    if origin is list:
        if isinstance(value, str) and metadata and metadata.get("one_or_many"):
            value = [value]
        if not isinstance(value, list):
            raise RecordError(f"{where} must be a list, not {_kind_of(value)}")
        return [_value(args[0], item, f"{where} item {n}") for n, item in enumerate(value, 1)]
    if origin is tuple:
        return _tuple(args, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where} must be a mapping, not {_kind_of(value)}")
        return {key: _value(args[1], item, f"{where[1:-1]} {key!r}") for key, item in value.items()}
    if dataclasses.is_dataclass(hint):
        try:
            return load(hint, value)
        except RecordError as exc:
            raise RecordError(f"{where}: {exc}") from None
    if hint is datetime:
        return _datetime(value, where)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise RecordError(f"{where} must be {_KINDS.get(hint, hint.__name__)}, not {_kind_of(value)}")
    return value


def _tuple(args: tuple, value, where: str) -> tuple:
    """A list as a tuple: ``tuple[X, ...]`` of any length, ``tuple[X, Y]`` of exactly that many items."""
    if not isinstance(value, list):
        raise RecordError(f"{where} must be a list, not {_kind_of(value)}")
    kinds = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
    if len(kinds) != len(value):
        raise RecordError(f"{where} must be a list of {len(kinds)} items, not {len(value)}")
    return tuple(_value(kind, item, f"{where} item {n}") for n, (kind, item) in enumerate(zip(kinds, value), 1))


def _datetime(value, where: str) -> datetime:
    """A date or datetime (YAML's, or an ISO 8601 string) as an aware datetime, UTC when naive."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(f"{where} {value!r} is not ISO 8601") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise RecordError(f"{where} must be {_KINDS[datetime]}, not {_kind_of(value)}")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _kind_of(value) -> str:
    return "nothing" if value is None else type(value).__name__
