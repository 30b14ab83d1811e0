"""Short syntaxes → the long ones, so the rest of compose sees one shape per key.

The result is what `compose config` prints: `ports` as `{target, published, host_ip,
protocol, mode}`, `volumes` as `{type, source, target, read_only}`, `environment` and
`labels` as mappings, `depends_on` as `{service: {condition, required, restart}}`,
`networks` as `{name: {aliases, ipv4_address} | None}`, `command` as a list.
"""

from __future__ import annotations

import os
import shlex

from dockyard.compose.durations import parse_duration
from dockyard.compose.envfile import read_env_file
from dockyard.compose.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["normalize_service", "parse_port", "parse_volume", "to_map", "split_command"]

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


def split_command(value: Any, where: str) -> list[str] | None:
    """compose splits a string command with shell word rules (quotes, backslashes), no shell."""
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def to_map(value: Any, sep: str = "=") -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else _scalar(v)) for k, v in value.items()}
    out: dict[str, Any] = {}
    for item in value:
        key, eq, val = str(item).partition(sep)
        out[key.strip()] = val if eq else None
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _port_range(text: str, where: str) -> list[int]:
    lo, dash, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if dash else a
    except ValueError:
        raise ConfigError(f"{where} invalid port: {text!r}") from None
    return list(range(a, b + 1))


def parse_port(spec: Any, where: str) -> list[dict[str, Any]]:
    """`[host_ip:][published:]target[/protocol]` (ranges allowed) or the long mapping."""
    if isinstance(spec, dict):
        out = {"mode": "ingress", "protocol": "tcp", **spec}
        out["target"] = int(out["target"])
        if out.get("published") is not None:
            out["published"] = str(out["published"])
        return [out]
    text = str(spec)
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    host_ip = ""
    if text.startswith("["):  # [::1]:80:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2:]
    parts = text.rsplit(":", 2) if not host_ip else text.split(":")
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    else:
        published, target = "", parts[0]
    targets = _port_range(target, where)
    pubs = _port_range(published, where) if published else []
    if pubs and len(pubs) != len(targets) and len(pubs) != 1:
        raise ConfigError(f"{where} invalid port range: {spec!r}")
    out_list = []
    for i, t in enumerate(targets):
        entry: dict[str, Any] = {"mode": "ingress", "target": t, "protocol": proto}
        if pubs:
            entry["published"] = str(pubs[i] if len(pubs) == len(targets) else pubs[0])
        if host_ip:
            entry["host_ip"] = host_ip
        out_list.append(entry)
    return out_list


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or "/" in source


def parse_volume(spec: Any, workdir: str, where: str) -> dict[str, Any]:
    if isinstance(spec, dict):
        out = dict(spec)
        if out.get("type") == "bind" and out.get("source"):
            out["source"] = _abs(str(out["source"]), workdir)
        return out
    parts = str(spec).split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    if len(parts) > 3:
        raise ConfigError(f"{where} invalid volume specification: '{spec}'")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    out = {"type": "bind" if _is_path(source) else "volume",
           "source": _abs(source, workdir) if _is_path(source) else source, "target": target}
    flags = mode.split(",") if mode else []
    if "ro" in flags:
        out["read_only"] = True
    if out["type"] == "bind":
        out["bind"] = {"create_host_path": True}
    return out


def _abs(path: str, workdir: str) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(workdir, path))


def _depends(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if isinstance(value, list):
        return {str(s): {"condition": "service_started", "required": True} for s in value}
    out = {}
    for name, opts in value.items():
        opts = dict(opts or {})
        cond = opts.get("condition", "service_started")
        if cond not in CONDITIONS:
            raise ConfigError(f"{where}.depends_on.{name}.condition must be one of the following: "
                              + ", ".join(f'"{c}"' for c in CONDITIONS))
        out[str(name)] = {"condition": cond, "required": bool(opts.get("required", True)),
                          **({"restart": bool(opts["restart"])} if "restart" in opts else {})}
    return out


def _networks(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list):
        return {str(n): None for n in value}
    return {str(k): (dict(v) if v else None) for k, v in value.items()}


def _healthcheck(hc: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(hc)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in out and out[key] is not None:
            parse_duration(out[key], f"{where}.healthcheck.{key}")  # checked here, converted when used
    return out


def normalize_service(name: str, svc: dict[str, Any], workdir: str, env: Mapping[str, str]) -> dict[str, Any]:
    where = f"services.{name}"
    out = {k: v for k, v in svc.items() if v is not None}
    if isinstance(out.get("build"), str):
        out["build"] = {"context": out["build"]}
    if "build" in out:
        b = dict(out["build"])
        b["context"] = _abs(str(b.get("context", ".")), workdir)
        b.setdefault("dockerfile", "Dockerfile")
        if isinstance(b.get("args"), list):
            b["args"] = to_map(b["args"])
        out["build"] = b
    for key in ("command", "entrypoint"):
        if key in out:
            out[key] = split_command(out[key], f"{where}.{key}")
    environment: dict[str, Any] = {}
    files = out.pop("env_file", None)
    for item in [files] if isinstance(files, (str, dict)) else files or []:
        path, required = (item, True) if isinstance(item, str) else (item["path"], item.get("required", True))
        environment.update(read_env_file(_abs(path, workdir), required))
    for k, v in to_map(out.get("environment")).items():
        environment[k] = env.get(k) if v is None else v
    if environment or "environment" in out:
        out["environment"] = environment
    if "labels" in out:
        out["labels"] = to_map(out["labels"])
    if "ports" in out:
        out["ports"] = [p for spec in out["ports"] for p in parse_port(spec, f"{where}.ports")]
    if "expose" in out:
        out["expose"] = [str(e) for e in out["expose"]]
    if "volumes" in out:
        out["volumes"] = [parse_volume(v, workdir, f"{where}.volumes") for v in out["volumes"]]
    out["depends_on"] = _depends(out.get("depends_on"), where)
    if not out["depends_on"]:
        del out["depends_on"]
    if "network_mode" not in out:
        out["networks"] = _networks(out.get("networks")) or {"default": None}
    if "extra_hosts" in out:
        eh = out["extra_hosts"]
        items = eh.items() if isinstance(eh, dict) else (
            (h.replace("=", ":", 1).split(":", 1) if "=" in h or ":" in h else (h, "")) for h in map(str, eh))
        out["extra_hosts"] = [f"{h}:{ip}" for h, ip in items]
    for key in ("dns", "dns_search", "tmpfs"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    if "healthcheck" in out:
        out["healthcheck"] = _healthcheck(out["healthcheck"], where)
    if "stop_grace_period" in out:
        parse_duration(out["stop_grace_period"], f"{where}.stop_grace_period")
    if "restart" in out and out["restart"].split(":")[0] not in ("no", "always", "on-failure", "unless-stopped"):
        raise ConfigError(f"invalid restart policy \"{out['restart']}\" for service {name}")
    return out
