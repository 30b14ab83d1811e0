"""An instruction's `--flags` (buildkit's BFlags): declared per instruction, then parsed.

Each instruction declares the flags it accepts; `parse` then checks the written flags
against them with Docker's messages ("unknown flag: --foo (did you mean from?)",
"missing a value on flag: --from", "duplicate flag specified: --chown", ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.build.golang import suggest

__all__ = ["BFlags", "FlagError"]


class FlagError(Exception):
    """A bad flag; the instruction parser reports it as the instruction's error."""


@dataclass
class _Flag:
    kind: str                    # "bool" | "string" | "strings"
    value: str = ""
    values: list[str] = field(default_factory=list)


class BFlags:
    def __init__(self, args: tuple[str, ...] | list[str]) -> None:
        self.args = list(args)
        self._flags: dict[str, _Flag] = {}
        self.used: list[str] = []          # names in the order first written

    def declare(self, spec: tuple[tuple[str, str], ...]) -> None:
        """Several flags at once: (name, "bool" | "string" | "strings"), defaults false and empty."""
        for name, kind in spec:
            self._flags[name] = _Flag(kind, "false" if kind == "bool" else "")

    def add_bool(self, name: str, default: bool = False) -> None:
        self._flags[name] = _Flag("bool", "true" if default else "false")

    def add_string(self, name: str, default: str = "") -> None:
        self._flags[name] = _Flag("string", default)

    def add_strings(self, name: str) -> None:
        self._flags[name] = _Flag("strings")

    def string(self, name: str) -> str:
        return self._flags[name].value

    def boolean(self, name: str) -> bool:
        return self._flags[name].value == "true"

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self._flags[name].values)

    def is_used(self, name: str) -> bool:
        return name in self.used

    def parse(self) -> None:
        for arg in self.args:
            if arg == "--":
                return  # POSIX: everything after `--` is an operand
            if not arg.startswith("--"):
                raise FlagError(f"arg should start with -- : {arg}")
            flag_name, has_value, value = arg.partition("=")
            name = flag_name[2:]
            flag = self._flags.get(name)
            if flag is None:
                raise FlagError(suggest(f"unknown flag: {flag_name}", name, list(self._flags), True))
            if name in self.used and flag.kind != "strings":
                raise FlagError(f"duplicate flag specified: {flag_name}")
            if name not in self.used:
                self.used.append(name)
            if flag.kind == "bool":
                if has_value and value == "":
                    raise FlagError(f"missing a value on flag: {flag_name}")
                lowered = value.lower()
                if lowered in ("true", ""):
                    flag.value = "true"
                elif lowered == "false":
                    flag.value = "false"
                else:
                    raise FlagError(f"expecting boolean value for flag {flag_name}, not: {value}")
            elif flag.kind == "string":
                if not has_value:
                    raise FlagError(f"missing a value on flag: {flag_name}")
                flag.value = value
            else:
                if not has_value:
                    raise FlagError(f"missing a value on flag: {flag_name}")
                flag.values.append(value)
