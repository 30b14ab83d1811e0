"""Container settings → OCI config.json, the way Docker builds it (moby daemon/oci_linux.go).

Docker's defaults (capabilities, masked paths, mounts, device rules) come from
``oci/runtime_spec.py``; this module applies a container's settings to them:
user lookup in the image's /etc/passwd and /etc/group, capability tweaks,
memory/cpu/pids limits with Docker's derived values, the daemon-provided
environment, and the /etc files bind-mounted from the container's directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci.runtime_spec import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    DEFAULT_DEVICE_RULES,
    DEFAULT_MASKED_PATHS,
    DEFAULT_PATH_ENV,
    DEFAULT_READONLY_PATHS,
    Capabilities,
    Device,
    Linux,
    Mount,
    Namespace,
    Process,
    Rlimit,
    Root,
    Spec,
    User,
    default_mounts,
)
from dockyard.runtime.rootfs import secure_join

__all__ = ["Resources", "build_spec", "exec_process_spec", "resolve_user", "tweak_capabilities", "daemon_env",
           "linux_resources"]

CPU_PERIOD = 100_000


@dataclass(frozen=True)
class Resources:
    memory: int = 0
    memory_swap: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    pids_limit: int | None = None


# -- user ----------------------------------------------------------------------------------------

def _read_db(rootfs: str, path: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, path), errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f
                    if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def _int(s: str) -> int | None:
    return int(s) if s.isdigit() else None


def resolve_user(rootfs: str, spec: str, group_add: Iterable[str] = ()) -> User:
    """Docker's (runc libcontainer/user GetExecUser) reading of ``--user``.

    '' → root; 'name' | 'uid' [':' 'group' | 'gid'].  Supplementary groups are
    the groups listing the user by name, only when no group was given.
    """
    user_arg, _, group_arg = spec.partition(":")
    passwd = [p for p in _read_db(rootfs, "/etc/passwd") if len(p) >= 4 and _int(p[2]) is not None]
    uid_num = _int(user_arg)
    uid, gid, name = 0, 0, ""
    for p in passwd:
        if (user_arg == "" and int(p[2]) == 0) or (uid_num is not None and int(p[2]) == uid_num) \
                or (uid_num is None and user_arg and p[0] == user_arg):
            name, uid, gid = p[0], int(p[2]), _int(p[3]) or 0
            break
    else:
        if user_arg and uid_num is None:
            raise InvalidArgument(f"unable to find user {user_arg}: no matching entries in passwd file")
        uid = uid_num or 0
    groups = [g for g in _read_db(rootfs, "/etc/group") if len(g) >= 3 and _int(g[2]) is not None]
    sgids: list[int] = []
    if group_arg:
        gid_num = _int(group_arg)
        match = [g for g in groups if (int(g[2]) == gid_num if gid_num is not None else g[0] == group_arg)]
        if match:
            gid = int(match[0][2])
        elif gid_num is not None:
            gid = gid_num
        else:
            raise InvalidArgument(f"unable to find group {group_arg}: no matching entries in group file")
    elif name:
        sgids = [int(g[2]) for g in groups if len(g) >= 4 and name in g[3].split(",")]
    for extra in group_add:
        num = _int(extra)
        if num is None:
            match = [g for g in groups if g[0] == extra]
            if not match:
                raise InvalidArgument(f"unable to find group {extra}: no matching entries in group file")
            num = int(match[0][2])
        sgids.append(num)
    return User(uid=uid, gid=gid, additional_gids=tuple(sgids))


# -- capabilities --------------------------------------------------------------------------------

def _normalize_caps(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        key = n.upper()
        if key != "ALL" and not key.startswith("CAP_"):
            key = "CAP_" + key
        if key != "ALL" and key not in ALL_CAPABILITIES:
            raise InvalidArgument(f'unknown capability: "{n}"')
        if key not in out:
            out.append(key)
    return out


def _host_capabilities() -> list[str]:
    from dockyard.runtime.syscalls import cap_last_cap
    return list(ALL_CAPABILITIES[: cap_last_cap() + 1])


def tweak_capabilities(cap_add: Iterable[str], cap_drop: Iterable[str], privileged: bool) -> list[str]:
    """moby's caps.TweakCapabilities: defaults minus drops plus adds; ALL on either side."""
    if privileged:
        return _host_capabilities()
    adds, drops = _normalize_caps(cap_add), _normalize_caps(cap_drop)
    if not adds and not drops:
        return list(DEFAULT_CAPABILITIES)
    if "ALL" in adds:
        return [c for c in _host_capabilities() if c not in drops]
    if "ALL" in drops:
        return [c for c in adds if c != "ALL"]
    caps = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    return caps + [c for c in adds if c not in caps]


# -- environment ---------------------------------------------------------------------------------

def daemon_env(env: Sequence[str], hostname: str, tty: bool) -> list[str]:
    """PATH, HOSTNAME (and TERM with a tty) first, then the container's env replacing or appending."""
    out = [f"PATH={DEFAULT_PATH_ENV}", f"HOSTNAME={hostname}"] + (["TERM=xterm"] if tty else [])
    for item in env:
        key, eq, _ = item.partition("=")
        idx = next((i for i, e in enumerate(out) if e.partition("=")[0] == key), None)
        if not eq:  # "KEY" alone unsets it, as in moby's ReplaceOrAppendEnvValues
            if idx is not None:
                del out[idx]
        elif idx is not None:
            out[idx] = item
        else:
            out.append(item)
    return out


# -- resources -----------------------------------------------------------------------------------

def linux_resources(r: Resources, privileged: bool = False) -> dict[str, Any]:
    """OCI linux.resources with Docker's derivations and checks."""
    if r.memory_swap and r.memory_swap != -1 and not r.memory:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    if r.memory and 0 < r.memory_swap < r.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if r.nano_cpus and r.cpu_quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if r.nano_cpus and r.cpu_period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    res: dict[str, Any] = {
        "devices": [{"allow": True, "access": "rwm"}] if privileged else [dict(d) for d in DEFAULT_DEVICE_RULES],
    }
    if r.memory > 0:
        swap = r.memory_swap if r.memory_swap else 2 * r.memory
        res["memory"] = {"limit": r.memory, "swap": swap}
    cpu: dict[str, int] = {}
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.nano_cpus:
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = r.nano_cpus * CPU_PERIOD // 1_000_000_000
    else:
        if r.cpu_quota:
            cpu["quota"] = r.cpu_quota
        if r.cpu_period:
            cpu["period"] = r.cpu_period
    if cpu:
        res["cpu"] = cpu
    if r.pids_limit is not None and r.pids_limit > 0:
        res["pids"] = {"limit": r.pids_limit}
    return res


# -- mounts and devices --------------------------------------------------------------------------

def _depth(dest: str) -> int:
    return len([p for p in dest.split("/") if p])


def _mounts(user_mounts: Sequence[Mapping[str, Any]], etc_files: Mapping[str, str], readonly: bool,
            privileged: bool, shm_size: int) -> list[Mount]:
    user = [Mount.from_dict(dict(m)) for m in user_mounts]
    taken = {m.destination.rstrip("/") or "/" for m in user}
    for dest, source in etc_files.items():
        if dest not in taken:
            user.append(Mount(dest, "bind", source, ("rbind", "rprivate") + (("ro",) if readonly else ())))
            taken.add(dest)
    defaults = []
    for m in default_mounts(shm_size):
        if m.destination in taken:
            continue
        if privileged and m.destination in ("/sys", "/sys/fs/cgroup"):
            m = Mount(m.destination, m.type, m.source, tuple(o for o in m.options if o != "ro") + ("rw",))
        defaults.append(m)
    return defaults + sorted(user, key=lambda m: _depth(m.destination))


def _host_devices() -> list[Device]:
    """Every device node under the host's /dev (privileged containers get them all, as in Docker)."""
    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    out: list[Device] = []
    for root, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in skip_dirs]
        for name in files:
            path = os.path.join(root, name)
            if path in ("/dev/console", "/dev/ptmx"):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
            if kind:
                out.append(Device(path, kind, os.major(st.st_rdev), os.minor(st.st_rdev),
                                  stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
    return out


def _rlimits(ulimits: Iterable[Mapping[str, Any]]) -> tuple[Rlimit, ...]:
    out = []
    for u in ulimits:
        name = str(u.get("Name") or u.get("name") or "").lower()
        out.append(Rlimit("RLIMIT_" + name.upper(), int(u.get("Hard", u.get("hard", 0))),
                          int(u.get("Soft", u.get("soft", 0)))))
    return tuple(out)


def _cgroup_v2_host() -> bool:
    try:
        from dockyard.runtime.cgroups import detect_mode
        return detect_mode() == "v2"
    except Exception:  # noqa: BLE001 - no cgroups at all: behave like v1 (host cgroup namespace)
        return False


def build_spec(*, rootfs: str, args: list[str], env: list[str], cwd: str, user: str, hostname: str,
               tty: bool, readonly_rootfs: bool, cgroups_path: str, resources: Resources,
               etc_files: dict[str, str], mounts: Sequence[Mapping[str, Any]] = (),
               netns_path: str | None = None, privileged: bool = False, cap_add: Sequence[str] = (),
               cap_drop: Sequence[str] = (), shm_size: int = 64 << 20, host_network: bool = False,
               group_add: Sequence[str] = (), sysctls: Mapping[str, str] | None = None,
               ulimits: Sequence[Mapping[str, Any]] = (), domainname: str = "",
               no_new_privileges: bool = False, oom_score_adj: int = 0) -> dict[str, Any]:
    """config.json for one container (rootfs must already be mounted: /etc/passwd is read from it).

    netns_path joins an existing network namespace; host_network shares the host's;
    otherwise the container gets a new, empty one.
    """
    if not args:
        raise InvalidArgument("No command specified")
    caps = tweak_capabilities(cap_add, cap_drop, privileged)
    namespaces = [Namespace("pid"), Namespace("ipc"), Namespace("uts"), Namespace("mount")]
    if netns_path:
        namespaces.append(Namespace("network", netns_path))
    elif not host_network:
        namespaces.append(Namespace("network"))
    if _cgroup_v2_host():
        namespaces.append(Namespace("cgroup"))  # Docker's default: private on v2, host on v1
    spec = Spec(
        process=Process(
            args=tuple(args), env=tuple(daemon_env(env, hostname, tty)), cwd=cwd or "/",
            user=resolve_user(rootfs, user, group_add), terminal=tty,
            capabilities=Capabilities.docker(caps), rlimits=_rlimits(ulimits),
            no_new_privileges=no_new_privileges, oom_score_adj=oom_score_adj),
        root=Root(rootfs, readonly_rootfs),
        hostname=hostname,
        domainname=domainname,
        mounts=tuple(_mounts(mounts, etc_files, readonly_rootfs, privileged, shm_size)),
        linux=Linux(
            namespaces=tuple(namespaces),
            devices=tuple(_host_devices()) if privileged else (),
            cgroups_path=cgroups_path,
            resources=linux_resources(resources, privileged),
            masked_paths=() if privileged else DEFAULT_MASKED_PATHS,
            readonly_paths=() if privileged else DEFAULT_READONLY_PATHS,
            sysctl=dict(sysctls or {}),
        ),
    )
    return spec.to_dict()


def exec_process_spec(container_spec: Mapping[str, Any], *, args: Sequence[str], env: Sequence[str] = (),
                      user: str = "", cwd: str = "", tty: bool = False, privileged: bool = False,
                      hostname: str = "", console_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The OCI process for `docker exec`: the container's process with the exec's overrides.

    Like moby: env = daemon env for the exec's tty + the container's env + the exec's env;
    user and cwd default to the container's; privileged gets every capability.
    container_spec is the container's config.json (its rootfs must be mounted: --user
    names are looked up in it).
    """
    if not args:
        raise InvalidArgument("No exec command specified")
    proc = Process.from_dict(dict(container_spec["process"]))
    # The container's TERM came from its own tty; the exec's tty decides now.
    base = [e for e in proc.env if e != "TERM=xterm"]
    full_env = daemon_env(base + list(env), hostname or container_spec.get("hostname", ""), tty)
    u = resolve_user(container_spec["root"]["path"], user) if user else proc.user
    caps = Capabilities.docker(_host_capabilities()) if privileged else proc.capabilities
    out = Process(args=tuple(args), env=tuple(full_env), cwd=cwd or proc.cwd, user=u, terminal=tty,
                  capabilities=caps, rlimits=proc.rlimits,
                  no_new_privileges=proc.no_new_privileges and not privileged).to_dict()
    if console_size:
        out["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    return out
