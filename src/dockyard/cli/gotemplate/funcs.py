"""The template functions: Go's builtins and the ones docker adds (json, join, upper, ...)."""

from __future__ import annotations

from .values import MISSING, TemplateError, _go_json, go_sprintf, go_str

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# ---------------------------------------------------------------------------------------
# Functions


def _truth(v: Any) -> bool:
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict, bytes)):
        return bool(v)
    return True


def _f_and(*args: Any) -> Any:
    v: Any = None
    for v in args:
        if not _truth(v):
            return v
    return v


def _f_or(*args: Any) -> Any:
    v: Any = None
    for v in args:
        if _truth(v):
            return v
    return v


def _f_len(v: Any) -> int:
    if v is None or v is MISSING:
        raise TemplateError("error calling len: len of nil pointer")
    try:
        return len(v)
    except TypeError:
        raise TemplateError(f"error calling len: len of type {type(v).__name__}") from None


def _f_index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if v is None or v is MISSING:
            raise TemplateError("error calling index: index of untyped nil")
        if isinstance(v, dict):
            v = v.get(k, "")  # the zero value of a map[string]string, as docker's typed structs give
        elif isinstance(v, (list, tuple, str)):
            if not isinstance(k, int) or not 0 <= k < len(v):
                raise TemplateError(f"error calling index: index out of range: {go_str(k)}")
            v = v[k]
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(v).__name__}")
    return v


def _f_slice(v: Any, *idx: int) -> Any:
    if len(idx) > 2:
        return v[idx[0]:idx[1]]
    return v[slice(*idx)] if idx else v


def _cmp_pair(a: Any, b: Any) -> tuple[Any, Any]:
    if a is MISSING:
        a = None
    if b is MISSING:
        b = None
    return a, b


def _f_eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise TemplateError("error calling eq: missing argument for comparison")
    for b in bs:
        x, y = _cmp_pair(a, b)
        if x == y and type(x) is not bool or x is y:
            return True
        if isinstance(x, bool) and isinstance(y, bool) and x == y:
            return True
    return False


def _f_ne(a: Any, b: Any) -> bool:
    return not _f_eq(a, b)


def _ordered(name: str, a: Any, b: Any) -> tuple[Any, Any]:
    a, b = _cmp_pair(a, b)
    ok = (isinstance(a, str) and isinstance(b, str)) or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool)
    )
    if not ok:
        raise TemplateError(f"error calling {name}: incompatible types for comparison")
    return a, b


def _f_lt(a: Any, b: Any) -> bool:
    x, y = _ordered("lt", a, b)
    return x < y


def _f_le(a: Any, b: Any) -> bool:
    x, y = _ordered("le", a, b)
    return x <= y


def _f_gt(a: Any, b: Any) -> bool:
    x, y = _ordered("gt", a, b)
    return x > y


def _f_ge(a: Any, b: Any) -> bool:
    x, y = _ordered("ge", a, b)
    return x >= y


def _f_print(*args: Any) -> str:
    # fmt.Sprint: a space between operands when neither side is a string
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(a)
    return out


def _f_println(*args: Any) -> str:
    return " ".join(go_str(a) for a in args) + "\n"


def _f_html(*args: Any) -> str:
    s = _f_print(*args)
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;").replace("\x00", "\uFFFD"))


def _f_js(*args: Any) -> str:
    s = _f_print(*args)
    rep = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D",
           "\n": "\\u000A", "\r": "\\u000D", "\t": "\\u0009"}
    return "".join(rep.get(c, c) for c in s)


def _f_urlquery(*args: Any) -> str:
    from dockyard.client.api import quote

    return quote(_f_print(*args), plus=True)


def _f_call(fn: Any, *args: Any) -> Any:
    if not callable(fn):
        raise TemplateError(f"error calling call: non-function of type {type(fn).__name__}")
    return fn(*args)


def _f_split(s: Any, sep: str) -> list[str]:
    s = go_str(s)
    if sep == "":
        return list(s)
    return s.split(sep)


def _f_join(items: Any, sep: str) -> str:
    if items is None or items is MISSING:
        return ""
    if isinstance(items, str):
        raise TemplateError("error calling join: wrong type for value; expected []string; got string")
    return sep.join(go_str(x) for x in items)


def _f_title(s: Any) -> str:
    s = go_str(s)
    out = []
    prev = " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def _f_pad(s: Any, before: int, after: int) -> str:
    return " " * before + go_str(s) + " " * after


def _f_truncate(s: Any, n: int) -> str:
    s = go_str(s)
    return s[:n] if len(s) > n else s


BASIC_FUNCS: dict[str, Callable[..., Any]] = {
    "and": _f_and,
    "or": _f_or,
    "not": lambda v: not _truth(v),
    "len": _f_len,
    "index": _f_index,
    "slice": _f_slice,
    "print": _f_print,
    "printf": lambda fmt, *a: go_sprintf(fmt, *a),
    "println": _f_println,
    "eq": _f_eq,
    "ne": _f_ne,
    "lt": _f_lt,
    "le": _f_le,
    "gt": _f_gt,
    "ge": _f_ge,
    "html": _f_html,
    "js": _f_js,
    "urlquery": _f_urlquery,
    "call": _f_call,
    # docker's additions (cli/templates)
    "json": _go_json,
    "split": _f_split,
    "join": _f_join,
    "title": _f_title,
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "pad": _f_pad,
    "truncate": _f_truncate,
}

# The table header is rendered by running the same template over the header names, with
# docker's formatting functions turned into pass-throughs.
HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    **BASIC_FUNCS,
    "json": lambda v: v,
    "split": lambda v, _s: v,
    "join": lambda v, _s: v,
    "title": lambda v: v,
    "lower": lambda v: v,
    "upper": lambda v: v,
    "pad": lambda v, _a, _b: v,
    "truncate": lambda v, _n: v,
}
