"""`docker import -c` / `docker commit -c`: Dockerfile-like lines applied to an image's run config.

Allowed, as in moby's BuildFromConfig: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK,
LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Anything else is
"<instruction> is not a valid change command". Pure: strings in, RunConfig out.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import replace

from dockyard.engine.signames import parse_signal
from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import Healthcheck, RunConfig

__all__ = ["apply_changes", "parse_duration", "expand_ports", "merge_env", "DEFAULT_SHELL"]

VALID = {"cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal",
         "user", "volume", "workdir"}
DEFAULT_SHELL = ("/bin/sh", "-c")


def apply_changes(config: RunConfig, changes: list[str]) -> RunConfig:
    lines: list[tuple[str, str]] = []
    for change in changes:
        for raw in change.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ") if " " in line else line.partition("\t")
            lines.append((keyword.lower(), rest.strip()))
    for keyword, _ in lines:
        if keyword not in VALID:
            raise InvalidArgument(f"{keyword} is not a valid change command")
    cmd_set = False
    for keyword, rest in lines:
        env = _env_map(config.env)
        if keyword == "cmd":
            config = replace(config, cmd=_command(rest, config))
            cmd_set = True
        elif keyword == "entrypoint":
            config = replace(config, entrypoint=_command(rest, config))
            if not cmd_set:
                config = replace(config, cmd=None)  # as a Dockerfile: ENTRYPOINT resets an inherited CMD
        elif keyword == "env":
            config = replace(config, env=merge_env(config.env, _pairs("ENV", rest, env)))
        elif keyword == "label":
            labels = dict(config.labels)
            labels.update(_pairs("LABEL", rest, env))
            config = replace(config, labels=labels)
        elif keyword == "expose":
            ports = list(config.exposed_ports)
            for word in _words(rest, env):
                for port in expand_ports(word):
                    if port not in ports:
                        ports.append(port)
            if not _words(rest, env):
                raise InvalidArgument("EXPOSE requires at least one argument")
            config = replace(config, exposed_ports=tuple(ports))
        elif keyword == "user":
            words = _words(rest, env)
            if len(words) != 1:
                raise InvalidArgument("USER requires exactly one argument")
            config = replace(config, user=words[0])
        elif keyword == "volume":
            vols = list(config.volumes)
            items = _json_list(rest)
            new = items if items is not None else _words(rest, env)
            if not new:
                raise InvalidArgument("VOLUME specified can not be an empty string")
            for v in new:
                if not v.strip():
                    raise InvalidArgument("VOLUME specified can not be an empty string")
                if v not in vols:
                    vols.append(v)
            config = replace(config, volumes=tuple(vols))
        elif keyword == "workdir":
            words = _words(rest, env)
            if len(words) != 1:
                raise InvalidArgument("WORKDIR requires exactly one argument")
            config = replace(config, working_dir=posixpath.normpath(
                posixpath.join(config.working_dir or "/", words[0])))
        elif keyword == "stopsignal":
            words = _words(rest, env)
            if len(words) != 1:
                raise InvalidArgument("STOPSIGNAL requires exactly one argument")
            parse_signal(words[0])
            config = replace(config, stop_signal=words[0])
        elif keyword == "onbuild":
            config = replace(config, on_build=config.on_build + (_onbuild(rest),))
        elif keyword == "healthcheck":
            config = replace(config, healthcheck=_healthcheck(rest, config))
    return config


# ---------------------------------------------------------------- words

_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = env.get(name, "")
        if m.group(2) == ":-":
            return value or m.group(3)
        if m.group(2) == ":+":
            return m.group(3) if value else ""
        return value
    return _VAR_RE.sub(sub, text)


def _words(text: str, env: dict[str, str], *, split: bool = True) -> list[str]:
    """Shell-like words: quotes removed, backslash escapes, $VAR expanded (not in single quotes)."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace() and split:
            if have:
                words.append("".join(cur))
                cur, have = [], False
            i += 1
            continue
        have = True
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise InvalidArgument("unexpected end of statement while looking for matching single-quote")
            cur.append(text[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$':
                    buf.append("\\" + text[i + 1] if text[i + 1] == "$" else text[i + 1])
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            if i >= n:
                raise InvalidArgument("unexpected end of statement while looking for matching double-quote")
            cur.append(_expand_escaped("".join(buf), env))
            i += 1
        elif c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
        else:
            j = i
            while j < n and text[j] not in "'\"\\" and not (split and text[j].isspace()):
                j += 1
            cur.append(_expand(text[i:j], env))
            i = j
    if have:
        words.append("".join(cur))
    return words


def _expand_escaped(text: str, env: dict[str, str]) -> str:
    # `\$` inside double quotes is a literal dollar: protect it from expansion.
    parts = text.split("\\$")
    return "$".join(_expand(p, env) for p in parts)


def _pairs(instruction: str, rest: str, env: dict[str, str]) -> list[tuple[str, str]]:
    if not rest:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    words = _words(rest, env)
    first_raw = rest.split(None, 1)[0]
    if "=" not in first_raw:
        # legacy form: NAME value with spaces
        name, _, value = rest.partition(" ") if " " in rest else rest.partition("\t")
        value = value.strip()
        if not value:
            raise InvalidArgument(f"{instruction} must have two arguments")
        return [(name, "".join(_words(value, env, split=False)))]
    out = []
    for word in words:
        name, eq, value = word.partition("=")
        if not eq:
            raise InvalidArgument(f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        if not name:
            raise InvalidArgument(f"{instruction} names can not be blank")
        out.append((name, value))
    return out


def _env_map(env: tuple[str, ...]) -> dict[str, str]:
    return dict(e.split("=", 1) if "=" in e else (e, "") for e in env)


def merge_env(env: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    out = list(env)
    for name, value in pairs:
        entry = f"{name}={value}"
        for i, e in enumerate(out):
            if e.split("=", 1)[0] == name:
                out[i] = entry
                break
        else:
            out.append(entry)
    return tuple(out)


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str, config: RunConfig) -> tuple[str, ...]:
    exec_form = _json_list(rest)
    if exec_form is not None:
        return tuple(exec_form)
    shell = config.shell or DEFAULT_SHELL
    return (*shell, rest)


def _onbuild(rest: str) -> str:
    keyword, _, args = rest.partition(" ")
    upper = keyword.upper()
    if upper == "ONBUILD":
        raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if upper in ("FROM", "MAINTAINER"):
        raise InvalidArgument(f"{upper} isn't allowed as an ONBUILD trigger")
    if not upper:
        raise InvalidArgument("ONBUILD requires at least one argument")
    return f"{upper} {args.strip()}".strip()


# ---------------------------------------------------------------- healthcheck, ports, signals

_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    if text == "0":
        return 0
    pos, total = 0, 0.0
    if not text:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    while pos < len(text):
        m = _DURATION_RE.match(text, pos)
        if not m:
            raise InvalidArgument(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return int(total)


def _healthcheck(rest: str, config: RunConfig) -> Healthcheck:
    words = rest.split()
    if words and words[0].upper() == "NONE":
        if len(words) > 1:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",))
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, eq, value = flag[2:].partition("=")
        if not eq or name not in ("interval", "timeout", "start-period", "start-interval", "retries"):
            raise InvalidArgument(f"Unknown flag: {flag[2:].partition('=')[0]}")
        flags[name] = value
        rest = rest.strip()
    keyword, _, cmd = rest.partition(" ")
    if keyword.upper() != "CMD":
        raise InvalidArgument(f'Unknown type "{keyword.upper()}" in HEALTHCHECK (try CMD)')
    cmd = cmd.strip()
    exec_form = _json_list(cmd)
    test = ("CMD", *exec_form) if exec_form is not None else ("CMD-SHELL", cmd)
    retries = 0
    if "retries" in flags:
        try:
            retries = int(flags["retries"])
        except ValueError:
            raise InvalidArgument(f'invalid argument "{flags["retries"]}" for --retries') from None
        if retries < 0:
            raise InvalidArgument("--retries cannot be negative")
    return Healthcheck(test=test, interval=parse_duration(flags.get("interval", "0")),
                       timeout=parse_duration(flags.get("timeout", "0")),
                       start_period=parse_duration(flags.get("start-period", "0")),
                       start_interval=parse_duration(flags.get("start-interval", "0")), retries=retries)


def expand_ports(spec: str) -> list[str]:
    """`80`, `80/udp`, `8000-8002/tcp` -> ["80/tcp"], ... (Docker's nat.ParsePortSpecs for EXPOSE)."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    if ":" in port:
        raise InvalidArgument(f"invalid containerPort: {port}")
    lo_s, dash, hi_s = port.partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if dash else lo
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {port}") from None
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
        raise InvalidArgument(f"invalid containerPort: {port}")
    return [f"{p}/{proto}" for p in range(lo, hi + 1)]
