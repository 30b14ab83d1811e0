"""Engine-API JSON shapes (PascalCase) built from engine records. The only place wire shapes live."""

from __future__ import annotations

import ipaddress
import json
import os
import platform
import time
from typing import Any

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.api.wire_volumes import mounts_json
from dockyard.build.cache_records import CacheRecord
from dockyard.engine.container_store import Container
from dockyard.engine.timeutil import rfc3339_to_epoch
from dockyard.oci.image_spec import rfc3339
from dockyard.store.paths import Paths
from dockyard.units import container_status

__all__ = [
    "container_inspect", "container_summary", "image_inspect", "image_summary", "history_entry",
    "version_info", "system_info", "status_text", "build_cache_record", "build_prune_report", "disk_usage",
]

_MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
           "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
           "/sys/devices/virtual/powercap"]
_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def status_text(c: Container, now: float | None = None) -> str:
    st = c.state
    health = (c.health or {}).get("Status", "")
    return container_status(st.status.value, rfc3339_to_epoch(st.started_at) or None,
                            rfc3339_to_epoch(st.finished_at) or None, st.exit_code, now, health=health)


def _state(c: Container) -> dict[str, Any]:
    st = c.state
    out = {
        # Docker counts a restarting container as running (stop/rm/kill treat it so)
        "Status": st.status.value, "Running": st.status.value in ("running", "paused", "restarting"),
        "Paused": st.status.value == "paused", "Restarting": st.status.value == "restarting",
        "OOMKilled": st.oom_killed, "Dead": st.status.value == "dead", "Pid": st.pid,
        "ExitCode": st.exit_code, "Error": st.error, "StartedAt": st.started_at,
        "FinishedAt": st.finished_at,
    }
    if c.health:
        out["Health"] = {"Status": c.health.get("Status") or "unhealthy",
                         "FailingStreak": c.health.get("FailingStreak", 0), "Log": c.health.get("Log") or []}
    return out


def _network_settings(c: Container) -> dict[str, Any]:
    ns = c.network_settings or {}
    networks = ns.get("Networks") or {}
    # the deprecated top-level fields describe the endpoint on the default bridge only, as Docker's do
    legacy = networks.get("bridge") or {}
    running = c.state.status.is_running and c.state.pid
    return {
        "Bridge": "", "SandboxID": c.id if running and networks else "", "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ns.get("Ports") or {},
        "SandboxKey": f"/proc/{c.state.pid}/ns/net" if running and networks else "",
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": legacy.get("EndpointID", ""), "Gateway": legacy.get("Gateway", ""),
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": legacy.get("IPAddress", ""),
        "IPPrefixLen": legacy.get("IPPrefixLen", 0), "IPv6Gateway": "", "MacAddress": legacy.get("MacAddress", ""),
        "Networks": networks,
    }


def container_inspect(c: Container, paths: Paths, *, size: tuple[int, int] | None = None,
                      exec_ids: list[str] | None = None) -> dict[str, Any]:
    cdir = paths.container(c.id)
    rw = cdir / "rw"
    hc = dict(c.host_config)
    hc.setdefault("MaskedPaths", _MASKED)
    hc.setdefault("ReadonlyPaths", _READONLY)
    if hc.get("MaskedPaths") is None:
        hc["MaskedPaths"] = _MASKED
    if hc.get("ReadonlyPaths") is None:
        hc["ReadonlyPaths"] = _READONLY
    out: dict[str, Any] = {
        "Id": c.id, "Created": c.created, "Path": c.path, "Args": c.args, "State": _state(c),
        "Image": c.image_id, "ResolvConfPath": str(cdir / "resolv.conf"),
        "HostnamePath": str(cdir / "hostname"), "HostsPath": str(cdir / "hosts"),
        "LogPath": str(paths.container_log(c.id)) if hc["LogConfig"]["Type"] != "none" else "",
        "Name": "/" + c.name, "RestartCount": c.restart_count, "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": exec_ids or None, "HostConfig": hc,
        "GraphDriver": {"Name": "overlay2", "Data": {
            "MergedDir": str(paths.bundle(c.id) / "rootfs"), "UpperDir": str(rw / "upper"),
            "WorkDir": str(rw / "work")}},
        "Mounts": mounts_json(c), "Config": c.config, "NetworkSettings": _network_settings(c),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def _ports_list(c: Container) -> list[dict[str, Any]]:
    out = []
    for key, bindings in ((c.network_settings or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in bindings:
            out.append({"IP": b.get("HostIp", ""), "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def container_summary(c: Container, image_name: str, *, size: tuple[int, int] | None = None) -> dict[str, Any]:
    command = " ".join([c.path, *c.args])
    out: dict[str, Any] = {
        "Id": c.id, "Names": ["/" + c.name], "Image": image_name or c.image_id, "ImageID": c.image_id,
        "Command": command, "Created": int(c.created_ts), "Ports": _ports_list(c),
        "Labels": c.config.get("Labels") or {}, "State": c.state.status.value, "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": (c.network_settings or {}).get("Networks") or {}},
        "Mounts": mounts_json(c),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def _image_config_block(config: dict) -> dict[str, Any]:
    cfg = dict(config.get("config") or {})
    base = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
            "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
            "OnBuild": None, "Labels": None}
    base.update(cfg)
    return base


def image_inspect(img: Any) -> dict[str, Any]:
    config = img.config
    return {
        "Id": img.id, "RepoTags": list(img.repo_tags), "RepoDigests": list(img.repo_digests),
        "Parent": img.parent or "", "Comment": _last_comment(config), "Created": img.created,
        "DockerVersion": "", "Author": config.get("author", ""),
        "Config": _image_config_block(config), "Architecture": config.get("architecture", "amd64"),
        "Os": config.get("os", "linux"), "Size": img.size, "VirtualSize": img.size,
        "GraphDriver": {"Name": "overlay2", "Data": {}},
        "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def _last_comment(config: dict) -> str:
    history = config.get("history") or []
    return history[-1].get("comment", "") if history else ""


def image_summary(img: Any, containers: int = -1) -> dict[str, Any]:
    labels = ((img.config.get("config") or {}).get("Labels")) or {}
    return {
        "Id": img.id, "ParentId": img.parent or "", "RepoTags": list(img.repo_tags) or ["<none>:<none>"],
        "RepoDigests": list(img.repo_digests), "Created": int(rfc3339_to_epoch(img.created)),
        "Size": img.size, "SharedSize": -1, "VirtualSize": img.size, "Labels": labels,
        "Containers": containers,
    }


def history_entry(h: Any) -> dict[str, Any]:
    if isinstance(h, dict):
        return h
    return {"Id": h.id, "Created": h.created, "CreatedBy": h.created_by, "Tags": h.tags,
            "Size": h.size, "Comment": h.comment}


def version_info() -> dict[str, Any]:
    uname = os.uname()
    details = {"ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
               "KernelVersion": uname.release, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {
        "Platform": {"Name": "dockyard"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
        "Arch": "amd64", "KernelVersion": uname.release, "BuildTime": "",
    }


def registry_config(insecure: tuple[str, ...] = ()) -> dict[str, Any]:
    """Info's RegistryConfig as dockerd reports it: loopback and the CIDRs given are insecure,
    each host name given is an index that is not secure."""
    cidrs, hosts = ["::1/128", "127.0.0.0/8"], []
    for entry in insecure:
        try:
            net = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.append(entry)
            continue
        if net not in cidrs:
            cidrs.append(net)
    indexes = {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}}
    indexes.update({h: {"Name": h, "Mirrors": [], "Secure": False, "Official": False} for h in hosts})
    return {"InsecureRegistryCIDRs": cidrs, "IndexConfigs": indexes, "Mirrors": []}


def system_info(*, containers: list[Container], images: int, paths: Paths, cgroup_version: str,
                runtimes: list[str], default_runtime: str, insecure_registries: tuple[str, ...] = ()) -> dict[str, Any]:
    uname = os.uname()
    counts = {"running": 0, "paused": 0, "stopped": 0}
    for c in containers:
        if c.state.status.value == "running":
            counts["running"] += 1
        elif c.state.status.value == "paused":
            counts["paused"] += 1
        else:
            counts["stopped"] += 1
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "ID": "", "Containers": len(containers), "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"], "ContainersStopped": counts["stopped"], "Images": images,
        "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                    "Log": ["json-file", "none"]},
        "MemoryLimit": True, "SwapLimit": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": False, "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": True,
        "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if cgroup_version == "v2" else "1", "NEventsListener": 0,
        "KernelVersion": uname.release, "OperatingSystem": _os_name(), "OSVersion": "",
        "OSType": "linux", "Architecture": uname.machine, "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config(insecure_registries),
        "NCPU": os.cpu_count() or 1, "MemTotal": mem, "DockerRootDir": str(paths.data_root),
        "Name": uname.nodename, "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {r: {"path": r} for r in runtimes}, "DefaultRuntime": default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "docker-init", "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": None,
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def path_stat_header(st: Any) -> str:
    """`X-Docker-Container-Path-Stat`: base64 of the JSON of Docker's container.PathStat."""
    import base64

    doc = {"name": st.name, "size": st.size, "mode": st.mode, "mtime": st.mtime, "linkTarget": st.link_target}
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def filesystem_changes(changes: list[tuple[str, int]]) -> list[dict[str, Any]] | None:
    """`GET /containers/{id}/changes`: Docker's []FilesystemChange; null when there is none."""
    return [{"Path": path, "Kind": kind} for path, kind in changes] or None


def build_cache_record(r: CacheRecord, *, parents: bool = True) -> dict[str, Any]:
    """One BuildCache record: `Parents` from API 1.42, the single `Parent` before it."""
    out: dict[str, Any] = {"ID": r.id}
    if parents:
        out["Parents"] = list(r.parents) or None
    else:
        out["Parent"] = r.parents[0] if r.parents else ""
    out.update({"Type": r.type, "Description": r.description, "InUse": r.in_use, "Shared": r.shared,
                "Size": r.size, "CreatedAt": rfc3339(r.created_ns),
                "LastUsedAt": rfc3339(r.last_used_ns) if r.last_used_ns is not None else None,
                "UsageCount": r.usage_count})
    return out


def build_prune_report(deleted: list[str], reclaimed: int) -> dict[str, Any]:
    """`POST /build/prune` (build.CachePruneReport): null when nothing was deleted, as moby."""
    return {"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def disk_usage(du: Any, *, image_name: Any, api_1_42: bool = True) -> dict[str, Any]:
    """`GET /system/df` (types.DiskUsage): kinds not asked for are null. Before API 1.42 the
    build cache also has its total as `BuilderSize` (omitted when 0, as moby)."""
    images = None
    if du.images is not None:
        images = []
        for record, containers, shared in du.images:
            item = image_summary(record, containers)
            item["SharedSize"] = shared
            images.append(item)
    containers = None if du.containers is None else [
        container_summary(c, image_name(c), size=(rw, rootfs)) for c, rw, rootfs in du.containers]
    cache = None if du.build_cache is None else [build_cache_record(r, parents=api_1_42) for r in du.build_cache]
    out = {"LayersSize": du.layers_size, "Images": images, "Containers": containers,
           "Volumes": du.volumes, "BuildCache": cache}
    builder_size = sum(r.size for r in du.build_cache or [])
    if not api_1_42 and builder_size:
        out["BuilderSize"] = builder_size
    return out
