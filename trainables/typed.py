"""Typed scalars from YAML or the command line: a parser for each type a config field has.

Each parser takes a YAML value or a command-line string and returns its type, or raises
``ValueError`` (``trainables.config.coerce`` turns that into an error naming the field). A
bool is ``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0`` in any case, and never a
number; an int may be written as a whole float (``1e3``, YAML's ``1000.0``).
"""
from __future__ import annotations

from typing import Any, Callable


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    f = float(value)
    if f != int(f):
        raise ValueError(value)
    return int(f)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


PARSERS: dict[type, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float, str: str}
