"""A Go text/template subset, enough for what docker users write in `--format`.

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`;
field chains on dicts and objects (`.A.B`, `$.X`, `$v.Y`, `(pipe).Z`), methods with
arguments (`.Label "k"`), pipelines (`a | b`), variables (`$x := ...`, `$x = ...`),
`if`/`else if`/`else`, `range` (lists, dicts sorted by key, ints; `$i, $e :=`; `else`;
`break`/`continue`), `with`/`else with`, `define`/`template`/`block`; constants (strings,
raw strings, chars, numbers, true/false/nil).  Functions: Go's builtins (and, or, not,
len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery,
call) and docker's (json, split, join, title, lower, upper, pad, truncate).

Values print as Go's fmt does: maps as `map[k:v]` (keys sorted), lists as `[a b]`, bools
`true`, nil `<nil>`, a missing map key `<no value>`, floats in Go's %v form.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "MISSING",
    "Template",
    "TemplateError",
    "parse",
    "render",
    "go_str",
    "go_quote",
    "go_sprintf",
    "BASIC_FUNCS",
    "HEADER_FUNCS",
]


class TemplateError(Exception):
    """A parse or execution error, worded like Go's."""


class _Missing:
    """The value of a key a map does not have: prints as "<no value>"."""

    _inst: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Printing values the way Go's fmt %v does


def _go_float(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    r = repr(f)
    mant, _, exp_s = r.partition("e")
    exp = int(exp_s) if exp_s else 0
    neg = mant.startswith("-")
    mant = mant.lstrip("-")
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    # decimal exponent of the first significant digit
    if ip.strip("0"):
        dexp = len(ip.lstrip("0")) - 1 + exp
    else:
        dexp = -(len(fp) - len(fp.lstrip("0"))) - 1 + exp
    digits = digits.rstrip("0") or "0"
    sign = "-" if neg else ""
    if dexp < -4 or dexp >= 6:  # strconv shortest %v: precision 6 decides
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if dexp < 0 else '+'}{abs(dexp):02d}"
    if dexp >= len(digits) - 1:
        return sign + digits + "0" * (dexp - len(digits) + 1)
    if dexp >= 0:
        return sign + digits[: dexp + 1] + "." + digits[dexp + 1:]
    return sign + "0." + "0" * (-dexp - 1) + digits


def go_str(v: Any) -> str:
    """fmt.Sprint of one value."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "<nil>"
    if v is MISSING:
        return "<no value>"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{go_str(k)}:{go_str(x)}" for k, x in items) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    return str(v)


def _sort_key(k: Any) -> tuple:
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        return (0, k, "")
    return (1, 0, str(k))


def go_quote(s: str) -> str:
    """strconv.Quote: double-quoted, Go escapes, printable unicode kept."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable() and o > 0x7F:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_json(v: Any) -> str:
    import json

    if v is MISSING:
        v = None
    return json.dumps(_jsonable(v), ensure_ascii=False, separators=(",", ":"))


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if v is MISSING:
        return None
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    to_json = getattr(v, "to_json", None)
    if callable(to_json):
        return to_json()
    return str(v)


def go_sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs people use: %s %v %d %q %x %X %f %e %g %t %c %o %b %%."""
    out: list[str] = []
    i = 0
    n = len(fmt)
    argi = 0
    while i < n:
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        start = i
        while i < n and fmt[i] in "+-# 0":
            i += 1
        while i < n and fmt[i].isdigit():
            i += 1
        if i < n and fmt[i] == ".":
            i += 1
            while i < n and fmt[i].isdigit():
                i += 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = fmt[start:i]
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_one(spec, verb, arg))
    if argi < len(args):
        extra = ", ".join(f"{type(a).__name__}={go_str(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(spec: str, verb: str, arg: Any) -> str:
    pyspec = spec.replace("#", "")
    if verb in "sv":
        text = go_str(arg) if verb == "v" or not isinstance(arg, str) else arg
        return ("%" + pyspec + "s") % text
    if verb == "q":
        return ("%" + pyspec + "s") % (go_quote(arg) if isinstance(arg, str) else go_str(arg))
    if verb == "t":
        return ("%" + pyspec + "s") % go_str(arg)
    if verb in "dboxXc" and isinstance(arg, bool):
        return f"%!{verb}(bool={go_str(arg)})"
    if verb in "xX" and isinstance(arg, str):
        h = arg.encode().hex()
        return ("%" + pyspec + "s") % (h.upper() if verb == "X" else h)
    if verb in "dboxXc":
        if not isinstance(arg, int):
            if isinstance(arg, float) and verb in "xX":
                return ("%" + pyspec + "s") % arg.hex()
            return f"%!{verb}({type(arg).__name__}={go_str(arg)})"
        if verb == "b":
            return ("%" + pyspec + "s") % format(arg, "b")
        if verb == "c":
            return chr(arg)
        return ("%" + pyspec + verb) % arg
    if verb in "feEgG":
        if not isinstance(arg, (int, float)) or isinstance(arg, bool):
            return f"%!{verb}({type(arg).__name__}={go_str(arg)})"
        if verb in "gG" and "." not in spec:
            return _go_float(float(arg))
        return ("%" + pyspec + verb) % arg
    return f"%!{verb}({type(arg).__name__}={go_str(arg)})"


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


# ---------------------------------------------------------------------------------------
# Lexing

_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})
_SPACE = " \t\r\n"


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class _Tok:
    __slots__ = ("kind", "val", "space", "pos")

    def __init__(self, kind: str, val: Any, space: bool, pos: int) -> None:
        self.kind = kind  # field var dot ident const lparen rparen pipe comma decl assign
        self.val = val
        self.space = space  # preceded by whitespace
        self.pos = pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.val!r}"


def _unquote_go(s: str, pos: int) -> str:
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise TemplateError(f"unterminated quoted string at {pos}")
        e = s[i]
        i += 1
        simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
                  "f": "\f", "v": "\v"}
        if e in simple:
            out.append(simple[e])
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            hexs = s[i:i + width]
            i += width
            try:
                cp = int(hexs, 16)
            except ValueError:
                raise TemplateError(f"invalid syntax in string: {s!r}") from None
            out.append(chr(cp))
        elif e in "01234567":
            octs = s[i - 1:i + 2]
            i += 2
            out.append(chr(int(octs, 8)))
        else:
            raise TemplateError(f"invalid syntax in string: {s!r}")
    return "".join(out)


def _parse_number(text: str) -> Any:
    t = text.replace("_", "")
    try:
        if t.lower().startswith(("0x", "-0x", "+0x", "0o", "0b")):
            return int(t, 0)
        if any(c in t for c in ".eE") and not t.lower().startswith("0x"):
            return float(t)
        if len(t.lstrip("+-")) > 1 and t.lstrip("+-").startswith("0"):
            return int(t, 8)
        return int(t)
    except ValueError:
        raise TemplateError(f"bad number syntax: {text!r}") from None


def _lex_action(src: str, i: int, line: int) -> tuple[list[_Tok], int, bool]:
    """Tokens of one action starting after "{{" (and any "- "); returns (tokens, end index, trim right)."""
    toks: list[_Tok] = []
    n = len(src)
    space = True
    while True:
        if i >= n:
            raise TemplateError(f"template: :{line}: unclosed action")
        c = src[i]
        if c in _SPACE:
            # " -}}" trims; "}}" after spaces ends
            j = i
            while j < n and src[j] in _SPACE:
                j += 1
            if src.startswith("-}}", j) and j > i:
                return toks, j + 3, True
            i = j
            space = True
            continue
        if src.startswith("}}", i):
            return toks, i + 2, False
        start = i
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                if src[j] == "\\":
                    j += 1
                if j < n and src[j] == "\n":
                    raise TemplateError(f"template: :{line}: unterminated quoted string")
                j += 1
            if j >= n:
                raise TemplateError(f"template: :{line}: unterminated quoted string")
            toks.append(_Tok("const", _unquote_go(src[i + 1:j], i), space, start))
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise TemplateError(f"template: :{line}: unterminated raw quoted string")
            toks.append(_Tok("const", src[i + 1:j], space, start))
            i = j + 1
        elif c == "'":
            j = i + 1
            while j < n and src[j] != "'":
                if src[j] == "\\":
                    j += 1
                j += 1
            ch = _unquote_go(src[i + 1:j], i)
            if len(ch) != 1:
                raise TemplateError(f"template: :{line}: malformed character constant")
            toks.append(_Tok("const", ord(ch), space, start))
            i = j + 1
        elif c == "(":
            toks.append(_Tok("lparen", "(", space, start))
            i += 1
        elif c == ")":
            toks.append(_Tok("rparen", ")", space, start))
            i += 1
        elif c == "|":
            toks.append(_Tok("pipe", "|", space, start))
            i += 1
        elif c == ",":
            toks.append(_Tok("comma", ",", space, start))
            i += 1
        elif c == ":" and src.startswith(":=", i):
            toks.append(_Tok("decl", ":=", space, start))
            i += 2
        elif c == "=":
            toks.append(_Tok("assign", "=", space, start))
            i += 1
        elif c == "." and (i + 1 >= n or not _is_ident_char(src[i + 1])):
            if i + 1 < n and src[i + 1].isdigit():
                pass
            toks.append(_Tok("dot", ".", space, start))
            i += 1
        elif c == ".":
            names = []
            while i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]):
                j = i + 1
                while j < n and _is_ident_char(src[j]):
                    j += 1
                names.append(src[i + 1:j])
                i = j
            toks.append(_Tok("field", names, space, start))
        elif c == "$":
            j = i + 1
            while j < n and _is_ident_char(src[j]):
                j += 1
            toks.append(_Tok("var", src[i:j], space, start))
            i = j
        elif c.isdigit() or (c in "+-" and i + 1 < n and src[i + 1].isdigit()):
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._" or (src[j] in "+-" and src[j - 1] in "eEpP")):
                j += 1
            toks.append(_Tok("const", _parse_number(src[i:j]), space, start))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and _is_ident_char(src[j]):
                j += 1
            word = src[i:j]
            if word == "true":
                toks.append(_Tok("const", True, space, start))
            elif word == "false":
                toks.append(_Tok("const", False, space, start))
            elif word == "nil":
                toks.append(_Tok("nil", None, space, start))
            else:
                toks.append(_Tok("ident", word, space, start))
            i = j
        else:
            raise TemplateError(f"template: :{line}: unexpected {c!r} in command")
        space = False
        # a field chain may follow a term directly: (x).Field, $v.Field
        if i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]) and toks[-1].kind in ("rparen", "var"):
            names = []
            while i < n and src[i] == "." and i + 1 < n and _is_ident_char(src[i + 1]):
                j = i + 1
                while j < n and _is_ident_char(src[j]):
                    j += 1
                names.append(src[i + 1:j])
                i = j
            toks.append(_Tok("chain", names, False, i))


# ---------------------------------------------------------------------------------------
# Parsing: nodes are tuples, ("kind", ...)


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.defines: dict[str, list] = {}

    def parse(self) -> list:
        items = self._items()
        self.items = items
        self.pos = 0
        body, end = self._list(())
        if end is not None:
            raise TemplateError(f"template: :{end[2]}: unexpected {{{{{end[0]}}}}}")
        return body

    def _items(self) -> list:
        """Split into ("text", s) and ("action", toks, line) items, applying trim markers."""
        src = self.src
        out: list = []
        i = 0
        n = len(src)
        trim_next = False
        while i < n:
            j = src.find("{{", i)
            text = src[i:] if j < 0 else src[i:j]
            if trim_next:
                text = text.lstrip(_SPACE)
            if j < 0:
                if text:
                    out.append(("text", text))
                break
            k = j + 2
            trim_left = src.startswith("-", k) and k + 1 < n and src[k + 1] in _SPACE
            if trim_left:
                text = text.rstrip(_SPACE)
                k += 2
            if text:
                out.append(("text", text))
            line = src.count("\n", 0, j) + 1
            # comment
            m = k
            while m < n and src[m] in _SPACE and trim_left:
                m += 1
            if src.startswith("/*", m):
                end = src.find("*/", m + 2)
                if end < 0:
                    raise TemplateError(f"template: :{line}: unclosed comment")
                e = end + 2
                trim_next = False
                if src.startswith(" -}}", e):
                    trim_next = True
                    e += 4
                elif src.startswith("}}", e):
                    e += 2
                else:
                    raise TemplateError(f"template: :{line}: comment ends before closing delimiter")
                i = e
                continue
            toks, i, trim_next = _lex_action(src, k, line)
            out.append(("action", toks, line))
        return out

    def _list(self, terminators: tuple[str, ...]) -> tuple[list, tuple | None]:
        """Nodes until one of the keyword actions in `terminators` (returned, consumed)."""
        nodes: list = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if item[0] == "text":
                nodes.append(item)
                continue
            toks, line = item[1], item[2]
            if not toks:
                raise TemplateError(f"template: :{line}: missing value for command")
            head = toks[0]
            kw = head.val if head.kind == "ident" and head.val in _KEYWORDS else None
            if kw in ("end", "else"):
                if kw not in terminators:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{kw}}}}}")
                return nodes, (kw, toks[1:], line)
            if kw in ("if", "with", "range"):
                nodes.append(self._control(kw, toks[1:], line))
            elif kw in ("break", "continue"):
                nodes.append((kw,))
            elif kw in ("define", "block"):
                if len(toks) < 2 or toks[1].kind != "const" or not isinstance(toks[1].val, str):
                    raise TemplateError(f"template: :{line}: {kw} clause requires a name")
                name = toks[1].val
                body, end = self._list(("end",))
                if end is None:
                    raise TemplateError(f"template: :{line}: unexpected EOF")
                self.defines[name] = body
                if kw == "block":
                    pipe = self._pipeline(toks[2:], line) if len(toks) > 2 else None
                    nodes.append(("template", name, pipe, line))
            elif kw == "template":
                if len(toks) < 2 or toks[1].kind != "const" or not isinstance(toks[1].val, str):
                    raise TemplateError(f"template: :{line}: template clause requires a name")
                pipe = self._pipeline(toks[2:], line) if len(toks) > 2 else None
                nodes.append(("template", toks[1].val, pipe, line))
            else:
                nodes.append(("action", self._pipeline(toks, line), line))
        return nodes, None

    def _control(self, kw: str, toks: list[_Tok], line: int) -> tuple:
        pipe = self._pipeline(toks, line, allow_decl=True, is_range=kw == "range")
        body, end = self._list(("end", "else"))
        if end is None:
            raise TemplateError(f"template: :{line}: unexpected EOF")
        else_body: list = []
        if end[0] == "else":
            rest = end[1]
            if rest and rest[0].kind == "ident" and rest[0].val in ("if", "with") and kw != "range":
                # {{else if ...}}: an if nested in the else branch, sharing the {{end}}
                else_body = [self._control(rest[0].val, rest[1:], end[2])]
            else:
                if rest:
                    raise TemplateError(f"template: :{end[2]}: unexpected token in else")
                else_body, end2 = self._list(("end",))
                if end2 is None:
                    raise TemplateError(f"template: :{line}: unexpected EOF")
        return (kw, pipe, body, else_body, line)

    def _pipeline(self, toks: list[_Tok], line: int, allow_decl: bool = True, is_range: bool = False) -> tuple:
        decl: list[str] = []
        assign = False
        # $x := ..., $i, $e := ..., $x = ...
        if toks and toks[0].kind == "var":
            if len(toks) > 1 and toks[1].kind in ("decl", "assign"):
                decl = [toks[0].val]
                assign = toks[1].kind == "assign"
                toks = toks[2:]
            elif is_range and len(toks) > 3 and toks[1].kind == "comma" and toks[2].kind == "var" \
                    and toks[3].kind in ("decl", "assign"):
                decl = [toks[0].val, toks[2].val]
                assign = toks[3].kind == "assign"
                toks = toks[4:]
        cmds: list[list] = []
        cur: list[_Tok] = []
        depth = 0
        for t in toks:
            if t.kind == "lparen":
                depth += 1
            elif t.kind == "rparen":
                depth -= 1
            if t.kind == "pipe" and depth == 0:
                if not cur:
                    raise TemplateError(f"template: :{line}: missing command")
                cmds.append(self._command(cur, line))
                cur = []
            else:
                cur.append(t)
        if cur:
            cmds.append(self._command(cur, line))
        if not cmds:
            raise TemplateError(f"template: :{line}: missing value for command")
        return (decl, assign, cmds)

    def _command(self, toks: list[_Tok], line: int) -> list:
        args: list = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "lparen":
                depth = 1
                j = i + 1
                while j < len(toks) and depth:
                    if toks[j].kind == "lparen":
                        depth += 1
                    elif toks[j].kind == "rparen":
                        depth -= 1
                    j += 1
                if depth:
                    raise TemplateError(f"template: :{line}: unclosed left paren")
                node: tuple = ("pipe", self._pipeline(toks[i + 1:j - 1], line))
                i = j
            elif t.kind == "rparen":
                raise TemplateError(f"template: :{line}: unexpected right paren")
            elif t.kind == "field":
                node = ("field", t.val)
                i += 1
            elif t.kind == "var":
                node = ("var", t.val)
                i += 1
            elif t.kind == "dot":
                node = ("dot",)
                i += 1
            elif t.kind == "const":
                node = ("const", t.val)
                i += 1
            elif t.kind == "nil":
                node = ("nil",)
                i += 1
            elif t.kind == "ident":
                if t.val in _KEYWORDS:
                    raise TemplateError(f"template: :{line}: unexpected <{t.val}> in command")
                node = ("ident", t.val)
                i += 1
            else:
                raise TemplateError(f"template: :{line}: unexpected {t.val!r} in command")
            if i < len(toks) and toks[i].kind == "chain":
                node = ("chain", node, toks[i].val)
                i += 1
            args.append(node)
        return args


# ---------------------------------------------------------------------------------------
# Execution


class Template:
    """A parsed template; `execute(data)` returns the text."""

    def __init__(self, src: str, funcs: dict[str, Callable[..., Any]] | None = None) -> None:
        self.src = src
        self.funcs = dict(BASIC_FUNCS if funcs is None else funcs)
        p = _Parser(src)
        self.root = p.parse()
        self.defines = p.defines
        self._check_funcs(self.root)
        for body in self.defines.values():
            self._check_funcs(body)

    def _check_funcs(self, nodes: list) -> None:
        """Go rejects unknown functions at parse time: `function "foo" not defined`."""
        def pipe(p: tuple | None) -> None:
            if p is None:
                return
            for cmd in p[2]:
                for arg in cmd:
                    operand(arg)

        def operand(a: tuple) -> None:
            if a[0] == "ident" and a[1] not in self.funcs:
                raise TemplateError(f'template: :1: function "{a[1]}" not defined')
            if a[0] == "pipe":
                pipe(a[1])
            if a[0] == "chain":
                operand(a[1])

        for n in nodes:
            if n[0] == "action":
                pipe(n[1])
            elif n[0] in ("if", "with", "range"):
                pipe(n[1])
                self._check_funcs(n[2])
                self._check_funcs(n[3])
            elif n[0] == "template":
                pipe(n[2])

    def execute(self, data: Any, funcs: dict[str, Callable[..., Any]] | None = None) -> str:
        out: list[str] = []
        ex = _Exec(self, funcs or self.funcs, out)
        ex.walk(self.root, data, [("$", data)])
        return "".join(out)


class _Exec:
    def __init__(self, tmpl: Template, funcs: dict[str, Callable[..., Any]], out: list[str]) -> None:
        self.tmpl = tmpl
        self.funcs = funcs
        self.out = out
        self.depth = 0

    def walk(self, nodes: list, dot: Any, vars: list[tuple[str, Any]]) -> None:
        mark = len(vars)
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                decl = node[1][0]
                val = self.pipe(node[1], dot, vars)
                if not decl:
                    self.out.append(go_str(val))
            elif kind == "if":
                _, pipe, body, els, _line = node
                if _truth(self.pipe(pipe, dot, vars)):
                    self.walk(body, dot, vars)
                else:
                    self.walk(els, dot, vars)
            elif kind == "with":
                _, pipe, body, els, _line = node
                val = self.pipe(pipe, dot, vars)
                if _truth(val):
                    self.walk(body, val, vars)
                else:
                    self.walk(els, dot, vars)
            elif kind == "range":
                self.range(node, dot, vars)
            elif kind == "break":
                raise _Break
            elif kind == "continue":
                raise _Continue
            elif kind == "template":
                _, name, pipe, line = node
                body = self.tmpl.defines.get(name)
                if body is None:
                    raise TemplateError(f'template: :{line}: no such template "{name}"')
                self.depth += 1
                if self.depth > 100:
                    raise TemplateError("template: exceeded maximum template depth (100000)")
                val = self.pipe(pipe, dot, vars) if pipe else None
                self.walk(body, val, [("$", val)])
                self.depth -= 1
        del vars[mark:]

    def range(self, node: tuple, dot: Any, vars: list[tuple[str, Any]]) -> None:
        _, pipe, body, els, line = node
        decl = pipe[0]
        val = self.pipe((([], False, pipe[2])), dot, vars)
        if val is None or val is MISSING:
            items: list[tuple[Any, Any]] = []
        elif isinstance(val, dict):
            items = [(k, val[k]) for k in sorted(val, key=_sort_key)]
        elif isinstance(val, (list, tuple, str)):
            items = list(enumerate(val if not isinstance(val, str) else []))
            if isinstance(val, str):
                raise TemplateError(f"template: :{line}: range can't iterate over {val}")
        elif isinstance(val, int) and not isinstance(val, bool):
            items = [(i, i) for i in range(val)]
        else:
            raise TemplateError(f"template: :{line}: range can't iterate over {go_str(val)}")
        if not items:
            self.walk(els, dot, vars)
            return
        for k, v in items:
            mark = len(vars)
            if len(decl) == 1:
                vars.append((decl[0], v))
            elif len(decl) == 2:
                vars.append((decl[0], k))
                vars.append((decl[1], v))
            try:
                self.walk(body, v, vars)
            except _Break:
                del vars[mark:]
                break
            except _Continue:
                pass
            del vars[mark:]

    def pipe(self, pipe: tuple, dot: Any, vars: list[tuple[str, Any]]) -> Any:
        decl, assign, cmds = pipe
        val: Any = MISSING
        first = True
        for cmd in cmds:
            val = self.command(cmd, dot, vars, None if first else val, not first)
            first = False
        for name in decl:
            if assign:
                for idx in range(len(vars) - 1, -1, -1):
                    if vars[idx][0] == name:
                        vars[idx] = (name, val)
                        break
                else:
                    raise TemplateError(f"undefined variable: {name}")
            else:
                vars.append((name, val))
        return val

    def command(self, cmd: list, dot: Any, vars: list, piped: Any, has_piped: bool) -> Any:
        head = cmd[0]
        extra = [self.arg(a, dot, vars) for a in cmd[1:]]
        if has_piped:
            extra.append(piped)
        if head[0] == "ident":
            fn = self.funcs[head[1]]
            if head[1] in ("and", "or") and not has_piped:
                # short-circuit like Go 1.18+
                pass
            try:
                return fn(*[None if a is MISSING and head[1] not in ("eq", "ne") else a for a in extra])
            except TemplateError:
                raise
            except TypeError as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
            except (ValueError, KeyError, IndexError) as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
        if head[0] in ("field", "chain") or (head[0] == "var" and extra):
            return self.operand(head, dot, vars, extra, final_call=True)
        if extra:
            raise TemplateError(f"can't give argument to non-function {self._describe(head)}")
        return self.arg(head, dot, vars)

    def _describe(self, node: tuple) -> str:
        if node[0] == "const":
            return go_str(node[1])
        if node[0] == "dot":
            return "."
        return str(node[1]) if len(node) > 1 else node[0]

    def arg(self, node: tuple, dot: Any, vars: list) -> Any:
        kind = node[0]
        if kind == "const":
            return node[1]
        if kind == "nil":
            return None
        if kind == "dot":
            return dot
        if kind == "ident":
            return self.funcs[node[1]]()
        return self.operand(node, dot, vars, [], final_call=False)

    def lookup_var(self, name: str, vars: list) -> Any:
        for n, v in reversed(vars):
            if n == name:
                return v
        raise TemplateError(f"undefined variable: {name}")

    def operand(self, node: tuple, dot: Any, vars: list, args: list, final_call: bool) -> Any:
        kind = node[0]
        if kind == "field":
            return self.fields(dot, node[1], args)
        if kind == "var":
            base = self.lookup_var(node[1], vars)
            if args:
                raise TemplateError(f"can't give argument to non-function {node[1]}")
            return base
        if kind == "pipe":
            return self.pipe(node[1], dot, vars)
        if kind == "chain":
            base = self.arg(node[1], dot, vars)
            return self.fields(base, node[2], args)
        return self.arg(node, dot, vars)

    def fields(self, obj: Any, names: list[str], args: list) -> Any:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            obj = get_field(obj, name, args if last else [], names[: i + 1])
        return obj


def get_field(obj: Any, name: str, args: list, path: list[str] | None = None) -> Any:
    """`.Name` on a map (missing key → MISSING) or an object (attribute or method)."""
    if isinstance(obj, dict):
        if args:
            raise TemplateError(f"can't give argument to non-function .{name}")
        return obj.get(name, MISSING)
    if obj is None or obj is MISSING:
        where = "." + ".".join(path or [name])
        raise TemplateError(f"template: :1: executing \"\" at <{where}>: nil pointer evaluating interface {{}}.{name}")
    if name[:1].isalpha() and not isinstance(obj, (str, int, float, list, tuple)):
        attr = getattr(obj, name, MISSING)
        if attr is not MISSING:
            if callable(attr):
                try:
                    return attr(*args)
                except TypeError as e:
                    raise TemplateError(f"wrong number of args for {name}: {e}") from None
            if args:
                raise TemplateError(f"can't give argument to non-function .{name}")
            return attr
    tname = getattr(obj, "go_type", None) or {str: "string", int: "int", float: "float64", bool: "bool",
                                               list: "[]interface {}", tuple: "[]interface {}"}.get(
        type(obj), type(obj).__name__)
    raise TemplateError(f"can't evaluate field {name} in type {tname}")


def parse(src: str, funcs: dict[str, Callable[..., Any]] | None = None) -> Template:
    return Template(src, funcs)


def render(src: str, data: Any, funcs: dict[str, Callable[..., Any]] | None = None) -> str:
    return Template(src, funcs).execute(data)
