"""A container's OCI bundle: the overlay rootfs, its /etc files, and config.json.

`prepare` runs right before the runtime creates the container; `release`
undoes it after the container exits (the writable layer stays until `rm`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.engine.container_store import Container
from dockyard.engine.endpoints import NetPlan
from dockyard.engine.etcfiles import write_etc_files
from dockyard.engine.init_process import apply_init, find_init, wants_init
from dockyard.engine.spec import Resources, build_spec
from dockyard.store import snapshots
from dockyard.store.paths import Paths

__all__ = ["prepare", "release"]


def resources_of(hc: dict) -> Resources:
    pids = hc.get("PidsLimit")
    return Resources(
        memory=hc.get("Memory") or 0, memory_swap=hc.get("MemorySwap") or 0,
        nano_cpus=hc.get("NanoCpus") or 0, cpu_shares=hc.get("CpuShares") or 0,
        cpu_quota=hc.get("CpuQuota") or 0, cpu_period=hc.get("CpuPeriod") or 0,
        pids_limit=pids if pids and pids > 0 else None)


def _etc_files(paths: Paths, c: Container, hostname: str, net: NetPlan) -> dict[str, str]:
    hc = c.host_config
    if net.kind == "container":   # the joined container's files: same network, same names
        own = paths.container(c.id)
        own.mkdir(parents=True, exist_ok=True)
        (own / "hostname").write_text(f"{hostname}\n")
        shared = Path(net.share_etc_from)
        return {"/etc/hostname": str(own / "hostname"), "/etc/hosts": str(shared / "hosts"),
                "/etc/resolv.conf": str(shared / "resolv.conf")}
    extra = [h.replace(":host-gateway", f":{net.host_gateway}") if net.host_gateway else h
             for h in hc.get("ExtraHosts") or []]
    return write_etc_files(paths.container(c.id), hostname, c.config.get("Domainname", ""),
                           host_network=net.kind == "host", ip=net.ip, extra_hosts=extra,
                           link_hosts=net.link_hosts,
                           embedded_dns=net.embedded_dns, dns=hc.get("Dns"), dns_search=hc.get("DnsSearch"),
                           dns_options=hc.get("DnsOptions"))


def prepare(paths: Paths, c: Container, lowerdirs: list[str], cgroups_path: str, net: NetPlan,
            mounts: Sequence[Mapping[str, Any]] = (), rootfs_propagation: str = "") -> Path:
    """`mounts`: the container's binds, volumes and tmpfs as config.json entries (container_mounts.py)."""
    bundle = paths.bundle(c.id)
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True, exist_ok=True)
    rw = paths.container(c.id) / "rw"
    (rw / "upper").mkdir(parents=True, exist_ok=True)
    (rw / "work").mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(rootfs):
        snapshots.mount_rootfs(lowerdirs, str(rw / "upper"), str(rw / "work"), str(rootfs))
    try:
        host_net = net.kind == "host"
        hostname = c.config["Hostname"] if not host_net else os.uname().nodename
        etc = _etc_files(paths, c, hostname, net)
        hc = c.host_config
        spec = build_spec(
            rootfs=str(rootfs), args=[c.path, *c.args], env=[*net.link_env, *(c.config.get("Env") or [])],
            cwd=c.config.get("WorkingDir") or "/", user=c.config.get("User") or "",
            hostname=hostname, tty=c.config["Tty"], readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
            cgroups_path=cgroups_path, resources=resources_of(hc), etc_files=etc,
            privileged=bool(hc.get("Privileged")), cap_add=hc.get("CapAdd") or [],
            cap_drop=hc.get("CapDrop") or [], shm_size=hc.get("ShmSize") or (64 << 20),
            host_network=host_net, netns_path=net.netns_path or None, mounts=mounts)
        if host_net:
            spec["hostname"] = hostname
        if rootfs_propagation:   # a shared or slave bind needs the container's root to pass events on
            spec["linux"]["rootfsPropagation"] = rootfs_propagation
        if wants_init(hc):
            apply_init(spec, find_init())
        (bundle / "config.json").write_text(json.dumps(spec))
    except BaseException:
        release(paths, c.id)
        raise
    return bundle


def release(paths: Paths, cid: str) -> None:
    bundle = paths.bundle(cid)
    rootfs = bundle / "rootfs"
    if os.path.ismount(rootfs):
        snapshots.unmount(str(rootfs))
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(bundle)


