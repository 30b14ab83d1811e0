"""`.env` and `env_file:` files: `KEY=VALUE` lines as compose reads them (dotenv rules).

`#` starts a comment line; an optional `export ` prefix; values may be single-quoted
(literal), double-quoted (`\\n` escapes), or bare (an inline ` #` starts a comment);
a bare `KEY` takes its value from the environment (left out when unset there).
"""

from __future__ import annotations

import os

from dockyard.compose.errors import ConfigError

__all__ = ["parse_env_text", "read_env_file"]


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
    hash_at = raw.find(" #")
    return (raw[:hash_at] if hash_at >= 0 else raw).strip()


def parse_env_text(text: str, lookup: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if lookup is None else lookup
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("export "):
            s = s[len("export "):].lstrip()
        key, eq, raw = s.partition("=")
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ConfigError(f"unexpected character in variable name at line {n}: {line!r}")
        if not eq:
            if key in env:
                out[key] = env[key]
            continue
        out[key] = _value(raw)
    return out


def read_env_file(path: str, required: bool = True) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_env_text(f.read())
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(f"env file {path} not found: stat {path}: no such file or directory") from None
