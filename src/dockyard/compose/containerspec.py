"""A normalised service → the Engine API's `POST /containers/create` body."""

from __future__ import annotations

from dockyard.compose.durations import parse_duration, parse_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.model import Project

__all__ = ["create_body", "endpoint_config"]


def _healthcheck(hc: dict[str, Any]) -> dict[str, Any]:
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {"Test": hc.get("test")}
    for key, wire in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                      ("start_interval", "StartInterval")):
        if hc.get(key) is not None:
            out[wire] = parse_duration(hc[key])
    if hc.get("retries") is not None:
        out["Retries"] = int(hc["retries"])
    return out


def _mounts(project: Project, svc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in svc.get("volumes", []):
        kind = v.get("type", "volume")
        m: dict[str, Any] = {"Type": kind, "Target": v["target"], "ReadOnly": bool(v.get("read_only"))}
        source = v.get("source")
        if kind == "volume" and source:
            m["Source"] = project.volume_name(source)
        elif source:
            m["Source"] = source
        if kind == "tmpfs" and v.get("tmpfs", {}).get("size"):
            m["TmpfsOptions"] = {"SizeBytes": parse_size(v["tmpfs"]["size"])}
        out.append(m)
    return out


def _ports(svc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for e in svc.get("expose", []):
        port, _, proto = e.partition("/")
        exposed[f"{port}/{proto or 'tcp'}"] = {}
    for p in svc.get("ports", []):
        key = f"{p['target']}/{p.get('protocol', 'tcp')}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": p.get("host_ip", ""), "HostPort": str(p.get("published") or "")})
    return exposed, bindings


def endpoint_config(service: str, opts: dict[str, Any] | None) -> dict[str, Any]:
    """A service is reachable by its name on each of its networks: the service name is an alias."""
    opts = opts or {}
    ep: dict[str, Any] = {"Aliases": [service, *(opts.get("aliases") or [])]}
    if opts.get("ipv4_address") or opts.get("ipv6_address"):
        ep["IPAMConfig"] = {"IPv4Address": opts.get("ipv4_address", ""), "IPv6Address": opts.get("ipv6_address", "")}
    return ep


def create_body(project: Project, name: str, svc: dict[str, Any], image: str, labels: dict[str, str],
                command: list[str] | None = None) -> dict[str, Any]:
    exposed, bindings = _ports(svc)
    env = [k if v is None else f"{k}={v}" for k, v in (svc.get("environment") or {}).items() if v is not None]
    restart = svc.get("restart", "no")
    rname, _, count = restart.partition(":")
    host: dict[str, Any] = {
        "PortBindings": bindings or None,
        "Mounts": _mounts(project, svc) or None,
        "RestartPolicy": {"Name": "" if rname == "no" else rname, "MaximumRetryCount": int(count or 0)},
        "ReadonlyRootfs": bool(svc.get("read_only")),
        "Init": svc.get("init"),
        "CapAdd": svc.get("cap_add"), "CapDrop": svc.get("cap_drop"),
        "Privileged": bool(svc.get("privileged")),
        "ExtraHosts": svc.get("extra_hosts"),
        "Dns": svc.get("dns"), "DnsSearch": svc.get("dns_search"), "DnsOptions": svc.get("dns_opt"),
        "Tmpfs": {t.split(":", 1)[0]: (t.split(":", 1)[1] if ":" in t else "") for t in svc.get("tmpfs", [])} or None,
        "Memory": parse_size(svc["mem_limit"]) if "mem_limit" in svc else 0,
        "NanoCpus": int(float(svc["cpus"]) * 1e9) if "cpus" in svc else 0,
        "ShmSize": parse_size(svc["shm_size"]) if "shm_size" in svc else 0,
        "SecurityOpt": svc.get("security_opt"),
        "PidMode": svc.get("pid", ""), "IpcMode": svc.get("ipc", ""),
        "GroupAdd": svc.get("group_add"),
        "Sysctls": svc.get("sysctls") if isinstance(svc.get("sysctls"), dict) else None,
    }
    networks = svc.get("networks") or {}
    if "network_mode" in svc:
        host["NetworkMode"] = svc["network_mode"]
        net_cfg = None
    else:
        first = next(iter(networks), None)
        host["NetworkMode"] = project.network_name(first) if first else "none"
        net_cfg = {"EndpointsConfig": {project.network_name(first): endpoint_config(name, networks[first])}} \
            if first else None
    body: dict[str, Any] = {
        "Image": image,
        "Cmd": command if command is not None else svc.get("command"),
        "Entrypoint": svc.get("entrypoint"),
        "Env": env or None,
        "Labels": {**(svc.get("labels") or {}), **labels},
        "ExposedPorts": exposed or None,
        "WorkingDir": svc.get("working_dir", ""),
        "User": svc.get("user", ""),
        "Hostname": svc.get("hostname", ""),
        "Domainname": svc.get("domainname", ""),
        "Tty": bool(svc.get("tty")),
        "OpenStdin": bool(svc.get("stdin_open")),
        "AttachStdout": True, "AttachStderr": True,
        "StopSignal": svc.get("stop_signal"),
        "StopTimeout": parse_duration(svc["stop_grace_period"]) // 10**9 if "stop_grace_period" in svc else None,
        "Healthcheck": _healthcheck(svc["healthcheck"]) if "healthcheck" in svc else None,
        "HostConfig": {k: v for k, v in host.items() if v is not None},
        "NetworkingConfig": net_cfg,
    }
    return {k: v for k, v in body.items() if v is not None}
