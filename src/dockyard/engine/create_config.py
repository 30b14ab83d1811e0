"""Turn a create request (Docker's Config + HostConfig) and an image into a container's config.

Docker's rules: Entrypoint and Cmd come from the image unless given; giving an
Entrypoint drops the image's Cmd; Env merges by key (request wins); labels,
exposed ports and volumes merge; the hostname defaults to the first 12 hex of
the id.
"""

from __future__ import annotations

from typing import Any

from dockyard import errors
from dockyard.engine.health import merge_healthcheck, validate_healthcheck
from dockyard.engine.logopts import parse_log_config

__all__ = ["merge_config", "normalise_host_config", "command_of"]

_HOST_DEFAULTS: dict[str, Any] = {
    "Binds": None, "NetworkMode": "default", "PortBindings": {}, "AutoRemove": False,
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "LogConfig": {"Type": "json-file", "Config": {}},
    "Privileged": False, "ReadonlyRootfs": False, "CapAdd": None, "CapDrop": None, "Memory": 0,
    "MemorySwap": 0, "NanoCpus": 0, "CpuShares": 0, "CpuPeriod": 0, "CpuQuota": 0, "PidsLimit": None,
    "ShmSize": 64 << 20, "Runtime": "", "Init": None, "Dns": [], "DnsOptions": [], "DnsSearch": [],
    "ExtraHosts": None, "VolumesFrom": None, "Mounts": None, "Tmpfs": None, "Ulimits": None,
    "SecurityOpt": None, "IpcMode": "private", "PidMode": "", "UTSMode": "", "CgroupnsMode": "private",
    "ConsoleSize": [0, 0], "PublishAllPorts": False, "OomKillDisable": False, "MemoryReservation": 0,
    "MemorySwappiness": None, "CgroupParent": "", "Isolation": "", "GroupAdd": None, "Links": None,
}


def _env_merge(image_env: list[str] | None, env: list[str] | None) -> list[str]:
    merged: dict[str, str] = {}
    for item in (image_env or []) + (env or []):
        key = item.split("=", 1)[0]
        merged.pop(key, None)
        merged[key] = item
    return list(merged.values())


def _check_type(name: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if value is not None and not isinstance(value, kind):
        raise errors.InvalidArgument(f"invalid type for {name}: {type(value).__name__}")


def merge_config(body: dict, image_config: dict, container_id: str) -> dict:
    """The container's Config: the request, completed from the image's config."""
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON: the body must be an object")
    img = image_config.get("config") or {}
    for key, kind in (("Cmd", (list, str)), ("Entrypoint", (list, str)), ("Env", list),
                      ("Labels", dict), ("ExposedPorts", dict), ("Volumes", dict)):
        _check_type(key, body.get(key), kind)
    cmd = body.get("Cmd")
    entrypoint = body.get("Entrypoint")
    if isinstance(cmd, str):
        cmd = [cmd]
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint] if entrypoint else []
    if entrypoint is None:
        entrypoint = img.get("Entrypoint")
        if not cmd:
            cmd = img.get("Cmd")
    for item in body.get("Env") or []:
        if not isinstance(item, str) or item.startswith("="):
            raise errors.InvalidArgument(f"invalid environment variable: {item}")
    config = {
        "Hostname": body.get("Hostname") or container_id[:12],
        "Domainname": body.get("Domainname", ""),
        "User": body.get("User") or img.get("User", ""),
        "AttachStdin": bool(body.get("AttachStdin")),
        "AttachStdout": bool(body.get("AttachStdout")),
        "AttachStderr": bool(body.get("AttachStderr")),
        "ExposedPorts": {**(img.get("ExposedPorts") or {}), **(body.get("ExposedPorts") or {})} or None,
        "Tty": bool(body.get("Tty")),
        "OpenStdin": bool(body.get("OpenStdin")),
        "StdinOnce": bool(body.get("StdinOnce")),
        "Env": _env_merge(img.get("Env"), body.get("Env")),
        "Cmd": cmd or None,
        "Image": body.get("Image", ""),
        "Volumes": {**(img.get("Volumes") or {}), **(body.get("Volumes") or {})} or None,
        "WorkingDir": body.get("WorkingDir") or img.get("WorkingDir", ""),
        "Entrypoint": entrypoint or None,
        "OnBuild": img.get("OnBuild"),
        "Labels": {**(img.get("Labels") or {}), **(body.get("Labels") or {})},
    }
    for key in ("StopSignal", "StopTimeout"):
        value = body.get(key) or img.get(key)
        if value:
            config[key] = value
    healthcheck = merge_healthcheck(body.get("Healthcheck"), img.get("Healthcheck"))
    validate_healthcheck(healthcheck)
    if healthcheck:
        config["Healthcheck"] = healthcheck
    if not command_of(config):
        raise errors.InvalidArgument("No command specified")
    return config


def command_of(config: dict) -> list[str]:
    return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])


def normalise_host_config(host_config: dict | None) -> dict:
    hc = dict(_HOST_DEFAULTS)
    hc.update({k: v for k, v in (host_config or {}).items() if v is not None or k not in hc})
    for key in ("Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota", "ShmSize"):
        if not isinstance(hc.get(key) or 0, int):
            raise errors.InvalidArgument(f"invalid type for HostConfig.{key}")
        hc[key] = hc.get(key) or 0
    if hc["Memory"] and hc["Memory"] < 6 * 1024 * 1024:
        raise errors.InvalidArgument("Minimum memory limit allowed is 6MB")
    if hc["MemorySwap"] > 0 and hc["Memory"] and hc["MemorySwap"] < hc["Memory"]:
        raise errors.InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage")
    if hc["NanoCpus"] and (hc["CpuPeriod"] or hc["CpuQuota"]):
        raise errors.InvalidArgument(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if hc["NanoCpus"] < 0:
        raise errors.InvalidArgument("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available")
    if not hc.get("ShmSize"):
        hc["ShmSize"] = 64 << 20
    policy = hc.get("RestartPolicy") or {}
    name = policy.get("Name", "") or "no"
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise errors.InvalidArgument(f"invalid restart policy '{name}'")
    if hc.get("AutoRemove") and name != "no":
        raise errors.InvalidArgument("can't create 'AutoRemove' container with restart policy")
    hc["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    log_type = (hc.get("LogConfig") or {}).get("Type") or "json-file"
    if log_type not in ("json-file", "none", "local"):
        raise errors.InvalidArgument(f'failed to create logger: logger: no log driver named \'{log_type}\' is registered')
    hc["LogConfig"] = {"Type": log_type, "Config": (hc.get("LogConfig") or {}).get("Config") or {}}
    parse_log_config(log_type, hc["LogConfig"]["Config"])
    return hc
