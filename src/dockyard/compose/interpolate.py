"""Variable substitution in compose files, as the Compose specification defines it.

`$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
`${VAR:?error}` / `${VAR?error}` (fail), `${VAR:+alt}` / `${VAR+alt}` (replace when set),
`$$` for a literal `$`.  Defaults may themselves hold substitutions.  Only string *values*
are substituted (keys are not), after the YAML is parsed.
"""

from __future__ import annotations

import re

from dockyard.compose.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["interpolate", "substitute"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _find_close(text: str, start: int) -> int:
    """Index of the `}` that closes the `${` opened just before `start` (braces nest)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(body: str, env: Mapping[str, str], where: str) -> str:
    m = _NAME.match(body)
    if not m:
        raise ConfigError(f"Invalid template: \"${{{body}}}\"" + (f" in {where}" if where else ""))
    name, rest = m.group(0), body[m.end():]
    value = env.get(name)
    if not rest:
        return value or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            colon = op.startswith(":")
            present = value is not None and (value != "" or not colon)
            kind = op[-1]
            if kind == "-":
                return value if present else substitute(arg, env, where)  # type: ignore[return-value]
            if kind == "+":
                return substitute(arg, env, where) if present else ""
            if not present:
                msg = substitute(arg, env, where)
                raise ConfigError(f"required variable {name} is missing a value" + (f": {msg}" if msg else ""))
            return value  # type: ignore[return-value]
    raise ConfigError(f"Invalid template: \"${{{body}}}\"" + (f" in {where}" if where else ""))


def substitute(text: str, env: Mapping[str, str], where: str = "") -> str:
    """One string with every substitution applied."""
    out: list[str] = []
    i = 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        nxt = text[j + 1: j + 2]
        if nxt == "$":
            out.append("$")
            i = j + 2
        elif nxt == "{":
            end = _find_close(text, j + 2)
            if end < 0:
                raise ConfigError(f"Invalid template: \"{text}\"" + (f" in {where}" if where else ""))
            out.append(_braced(text[j + 2: end], env, where))
            i = end + 1
        else:
            m = _NAME.match(text, j + 1)
            if m:
                out.append(env.get(m.group(0)) or "")
                i = m.end()
            else:
                out.append("$")  # a lone `$` stays as it is
                i = j + 1
    return "".join(out)


def interpolate(node: Any, env: Mapping[str, str], path: str = "") -> Any:
    """The parsed YAML tree with substitutions applied to every string value."""
    if isinstance(node, str):
        return substitute(node, env, path)
    if isinstance(node, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(node)]
    return node
