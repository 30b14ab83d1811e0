"""Go's fmt for template output: how values print (%v, %q, printf verbs) and JSON."""

from __future__ import annotations

from dockyard.build.golang import go_quote  # strconv.Quote, shared with the builder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any



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
