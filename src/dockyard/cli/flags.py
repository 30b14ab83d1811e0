"""A small command-line parser that behaves like docker's pflag/cobra.

Why not argparse: docker's grammar differs in ways users notice.  Combined short
booleans (`-dit`), a value glued to its short flag (`-eK=V`, `-p8080:80`), `--flag=value`,
repeated flags accumulating into lists, `--` ending the flags, and for `run`/`exec`/`create`
flags stop at the first positional (the container's own command keeps its flags).
Errors are worded as pflag words them, since scripts and users match on them.

A flag spec is a 4-tuple `(short, long, kind, usage)`, optionally a 5th element
`hidden`.  `kind` is the word shown in help (`string`, `list`, `int`, `bytes`, ...); "bool"
flags take no value.  The usage text carries its own "(default ...)" suffix, exactly as
docker prints it, so help output can be reproduced byte for byte.
"""

from __future__ import annotations

from dockyard.gostrconv import parse_bool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "FlagError",
    "FlagSet",
    "Parsed",
    "parse_bool",
    "parse_int",
    "parse_bytes",
    "parse_map",
    "render_flags",
    "wrap_usage",
]

FlagSpec = tuple  # (short, long, kind, usage[, hidden])

# Kinds whose values accumulate instead of replacing the previous one.
_LIST_KINDS = frozenset({"list", "map", "filter", "ulimit", "mount", "network", "gpu-request", "stringArray",
                         "strings", "pref", "external-ca"})


class FlagError(Exception):
    """A command line that pflag would reject; `str()` is pflag's message."""


def parse_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64) with Go's wording on failure."""
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)  # Go accepts leading zeros ("010" is octal in Go; rare enough)
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(text: str) -> int:
    """docker's RAMInBytes: "512m", "1g", "1.5GiB", "1024" (binary units, case-insensitive)."""
    s = text.strip()
    if s == "-1":
        return -1  # MemSwapBytes: "-1" means unlimited swap
    low = s.lower()
    for suffix in ("ib", "b"):
        if low.endswith(suffix) and len(low) > len(suffix) and low[-len(suffix) - 1].isalpha():
            low = low[: -len(suffix)]
            break
    unit = ""
    if low and low[-1] in _UNITS and low[-1].isalpha():
        unit = low[-1]
        low = low[:-1]
    try:
        value = float(low)
        if value < 0 or low.strip() != low or not low:
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    return int(value * _UNITS[unit])


def parse_map(values: list[str]) -> dict[str, str]:
    """docker's MapOpts: "k=v" → k: v, a bare "k" → k: ""; a later key replaces an earlier one."""
    out: dict[str, str] = {}
    for v in values:
        key, _, val = v.partition("=")
        out[key] = val
    return out


def _quote(value: str | None) -> str:
    """pflag shows a refused value with Go's %q."""
    from dockyard.build.golang import go_quote

    return go_quote(value or "")


def _convert_for(kind: str) -> Callable[[str], object] | None:
    if kind in ("int", "int64", "uint", "uint16", "uint64"):
        return parse_int
    if kind == "bytes":
        return parse_bytes
    if kind == "mount":
        from dockyard.cli.mountopts import parse_mount_flag

        return parse_mount_flag
    return None


class Parsed:
    """The result: flag values by long name, plus positionals."""

    __slots__ = ("values", "args", "set_flags")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.args: list[str] = []
        self.set_flags: set[str] = set()

    def get(self, name: str, default: object = None) -> object:
        return self.values.get(name, default)

    def __getitem__(self, name: str) -> object:
        return self.values.get(name)

    def str(self, name: str, default: str = "") -> str:
        v = self.values.get(name)
        return default if v is None else str(v)

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.values.get(name)
        return default if v is None else bool(v)

    def list(self, name: str) -> list[str]:
        v = self.values.get(name)
        return list(v) if v else []  # type: ignore[call-overload]

    def changed(self, name: str) -> bool:
        return name in self.set_flags


class FlagSet:
    """The flags of one command; `parse(argv)` applies pflag's grammar."""

    def __init__(self, specs: Iterable[FlagSpec], interspersed: bool = True, help_short: bool = True) -> None:
        self.specs: list[FlagSpec] = list(specs)
        self.interspersed = interspersed
        self.by_long: dict[str, FlagSpec] = {}
        self.by_short: dict[str, FlagSpec] = {}
        for spec in self.specs:
            self.by_long[spec[1]] = spec
            if spec[0]:
                self.by_short[spec[0]] = spec
        if "help" not in self.by_long:
            short = "h" if help_short and "h" not in self.by_short else ""
            spec = (short, "help", "bool", "Print usage", True)
            self.by_long["help"] = spec
            if short:
                self.by_short[short] = spec

    @staticmethod
    def _label(spec: FlagSpec) -> str:
        return f"-{spec[0]}, --{spec[1]}" if spec[0] else f"--{spec[1]}"

    def _set(self, out: Parsed, spec: FlagSpec, raw: str | None) -> None:
        name, kind = spec[1], spec[2]
        if kind == "bool":
            try:
                value: object = True if raw is None else parse_bool(raw)
            except ValueError as e:
                raise FlagError(f'invalid argument {_quote(raw)} for "{self._label(spec)}" flag: {e}') from None
            out.values[name] = value
        else:
            assert raw is not None
            conv = _convert_for(kind)
            try:
                value = conv(raw) if conv else raw
            except ValueError as e:
                raise FlagError(f'invalid argument {_quote(raw)} for "{self._label(spec)}" flag: {e}') from None
            if kind in _LIST_KINDS:
                cur = out.values.setdefault(name, [])
                cur.append(value)  # type: ignore[attr-defined]
            else:
                out.values[name] = value
        out.set_flags.add(name)

    def parse(self, argv: Sequence[str]) -> Parsed:
        out = Parsed()
        i = 0
        n = len(argv)
        while i < n:
            arg = argv[i]
            i += 1
            if arg == "--":
                out.args.extend(argv[i:])
                break
            if arg.startswith("--"):
                name, eq, raw = arg[2:].partition("=")
                if not name or name.startswith("-") or name.startswith("="):
                    raise FlagError(f"bad flag syntax: {arg}")
                spec = self.by_long.get(name)
                if spec is None:
                    raise FlagError(f"unknown flag: --{name}")
                if spec[2] == "bool":
                    self._set(out, spec, raw if eq else None)
                elif eq:
                    self._set(out, spec, raw)
                elif i < n:
                    self._set(out, spec, argv[i])
                    i += 1
                else:
                    raise FlagError(f"flag needs an argument: --{name}")
                continue
            if arg.startswith("-") and len(arg) > 1:
                shorts = arg[1:]
                while shorts:
                    c = shorts[0]
                    spec = self.by_short.get(c)
                    if spec is None:
                        raise FlagError(f"unknown shorthand flag: '{c}' in -{shorts}")
                    rest = shorts[1:]
                    if spec[2] == "bool":
                        if rest.startswith("="):
                            self._set(out, spec, rest[1:])
                            rest = ""
                        else:
                            self._set(out, spec, None)
                        shorts = rest
                        continue
                    if rest:
                        self._set(out, spec, rest[1:] if rest.startswith("=") else rest)
                    elif i < n:
                        self._set(out, spec, argv[i])
                        i += 1
                    else:
                        raise FlagError(f"flag needs an argument: '{c}' in -{shorts}")
                    shorts = ""
                continue
            out.args.append(arg)
            if not self.interspersed:
                out.args.extend(argv[i:])
                break
        return out

    def help_text(self, width: int = 80) -> str:
        return render_flags(self.specs, width)


def wrap_usage(indent: int, width: int, text: str) -> str:
    """pflag's wrap(): fold `text` at `width`, continuation lines indented by `indent`."""
    if width == 0:
        return text.replace("\n", "\n" + " " * indent)
    room = width - indent
    out = ""
    if room < 24:
        indent = 16
        room = width - indent
        out += "\n" + " " * indent
    if room < 24:
        return text.replace("\n", out)
    slop = 5
    room -= slop
    pad = "\n" + " " * indent

    def wrap_n(s: str) -> tuple[str, str]:
        if room + slop > len(s):
            return s, ""
        w = max(s.rfind(" ", 0, room), s.rfind("\t", 0, room), s.rfind("\n", 0, room))
        if w <= 0:
            return s, ""
        nl = s.rfind("\n", 0, room)
        if 0 < nl < w:
            return s[:nl], s[nl + 1:]
        return s[:w], s[w + 1:]

    line, text = wrap_n(text)
    out += line.replace("\n", pad)
    while text:
        line, text = wrap_n(text)
        out += pad + line.replace("\n", pad)
    return out


def render_flags(specs: Iterable[FlagSpec], width: int = 80) -> str:
    """pflag's FlagUsagesWrapped(width - 1), as docker's usage template calls it."""
    rows: list[tuple[str, str]] = []
    for spec in specs:
        if len(spec) > 4 and spec[4]:
            continue
        short, name, kind, usage = spec[:4]
        head = f"  -{short}, --{name}" if short else f"      --{name}"
        if kind != "bool":
            head += " " + kind
        rows.append((head, usage))
    if not rows:
        return ""
    maxlen = max(len(h) for h, _ in rows) + 1  # pflag counts its \x00 marker
    cols = width - 1
    lines = []
    for head, usage in rows:
        lines.append(head + " " * (maxlen - len(head) - 1) + "   " + wrap_usage(maxlen + 2, cols, usage))
    return "\n".join(lines) + "\n"
