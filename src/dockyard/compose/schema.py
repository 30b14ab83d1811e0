"""Which keys a compose file may hold and of what type, worded as compose's JSON-schema check.

compose reports `services.web Additional property foo is not allowed` for an unknown key and
`services.web.ports must be a array` for a wrong type; keys starting with `x-` are extensions.
"""

from __future__ import annotations

from dockyard.compose.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["validate"]

S, N, B, L, M = "string", "number", "boolean", "array", "object"

TOP = {"version": (S,), "name": (S,), "services": (M,), "networks": (M,), "volumes": (M,),
       "secrets": (M,), "configs": (M,), "include": (L,)}

SERVICE: dict[str, tuple[str, ...]] = {
    "image": (S,), "build": (S, M), "command": (S, L), "entrypoint": (S, L), "container_name": (S,),
    "depends_on": (L, M), "environment": (L, M), "env_file": (S, L), "ports": (L,), "expose": (L,),
    "volumes": (L,), "networks": (L, M), "network_mode": (S,), "labels": (L, M), "restart": (S,),
    "healthcheck": (M,), "working_dir": (S,), "user": (S,), "hostname": (S,), "domainname": (S,),
    "tmpfs": (S, L), "read_only": (B,), "init": (B,), "stop_signal": (S,), "stop_grace_period": (S,),
    "cap_add": (L,), "cap_drop": (L,), "privileged": (B,), "extra_hosts": (L, M), "dns": (S, L),
    "dns_search": (S, L), "dns_opt": (L,), "mem_limit": (S, N), "memswap_limit": (S, N), "cpus": (S, N),
    "cpu_shares": (S, N), "shm_size": (S, N), "tty": (B,), "stdin_open": (B,), "pid": (S,), "ipc": (S,),
    "ulimits": (M,), "sysctls": (L, M), "security_opt": (L,), "devices": (L,), "logging": (M,),
    "platform": (S,), "pull_policy": (S,), "profiles": (L,), "scale": (N,), "deploy": (M,), "links": (L,),
    "external_links": (L,), "group_add": (L,), "mac_address": (S,), "oom_score_adj": (N,), "pids_limit": (N, S),
    "secrets": (L,), "configs": (L,), "userns_mode": (S,), "volumes_from": (L,), "runtime": (S,),
    "extends": (S, M), "annotations": (L, M), "attach": (B,), "develop": (M,)
}

NETWORK = {"driver": (S,), "driver_opts": (M,), "external": (B, M), "name": (S,), "ipam": (M,),
           "internal": (B,), "labels": (L, M), "attachable": (B,), "enable_ipv6": (B,), "enable_ipv4": (B,)}
VOLUME = {"driver": (S,), "driver_opts": (M,), "external": (B, M), "name": (S,), "labels": (L, M)}


def _type_of(v: Any) -> str:
    if isinstance(v, bool):
        return B
    if isinstance(v, (int, float)):
        return N
    if isinstance(v, str):
        return S
    if isinstance(v, list):
        return L
    if isinstance(v, dict):
        return M
    return "null"


def _check_map(obj: Any, allowed: dict[str, tuple[str, ...]], where: str) -> None:
    if obj is None:
        return
    if not isinstance(obj, dict):
        raise ConfigError(f"{where} must be a mapping")
    for key, value in obj.items():
        if isinstance(key, str) and key.startswith("x-"):
            continue
        if key not in allowed:
            raise ConfigError(f"{where} Additional property {key} is not allowed")
        if value is None:
            continue
        if _type_of(value) not in allowed[key]:
            kinds = " or ".join(allowed[key])
            raise ConfigError(f"{where}.{key} must be a {kinds}")


def validate(doc: Any, filename: str) -> None:
    """Refuse unknown keys and wrong types (after merging, before normalising)."""
    try:
        if not isinstance(doc, dict):
            raise ConfigError("Top-level object must be a mapping")
        _check_map(doc, TOP, "(root)")
        services = doc.get("services") or {}
        for name, svc in services.items():
            if svc is None:
                svc = {}
            if not isinstance(svc, dict):
                raise ConfigError(f"services.{name} must be a mapping")
            _check_map(svc, SERVICE, f"services.{name}")
        for name, net in (doc.get("networks") or {}).items():
            _check_map(net, NETWORK, f"networks.{name}")
        for name, vol in (doc.get("volumes") or {}).items():
            _check_map(vol, VOLUME, f"volumes.{name}")
    except ConfigError as e:
        raise ConfigError(f"validating {filename}: {e.message}") from None
