"""Go's strconv.ParseBool, which Docker uses wherever a flag, option or filter takes a boolean."""

from __future__ import annotations

__all__ = ["parse_bool"]

_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_bool(text: str) -> bool:
    """True/False for the spellings Go accepts; ValueError with Go's message otherwise."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
