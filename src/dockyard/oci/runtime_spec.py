"""OCI runtime-spec config.json and state as frozen dataclasses: the engine→runtime contract.

Only the fields dockyard reads or writes are modelled; ``Spec.from_dict`` ignores
the rest (annotations, hooks, seccomp...) rather than failing, like runc does
for fields it does not support.  ``to_dict`` produces standard config.json
(camelCase keys), so `runc` can run the same bundle.

Docker's defaults live here as data: default capabilities, masked and read-only
paths, default mounts, default devices and device-cgroup rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OCI_VERSION", "DEFAULT_CAPABILITIES", "ALL_CAPABILITIES", "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS", "DEFAULT_DEVICES", "DEFAULT_DEVICE_RULES", "DEFAULT_PATH_ENV",
    "default_mounts", "User", "Capabilities", "Rlimit", "ConsoleSize", "Process", "Mount",
    "Namespace", "Device", "Linux", "Root", "Spec", "State",
]

OCI_VERSION = "1.0.2"
DEFAULT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's 14 default capabilities (CapEff 00000000a80425fb).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Index = capability number (linux/capability.h).
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)

DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)


def default_mounts(shm_size: int = 64 << 20) -> list[Mount]:
    """Docker's default mounts (moby oci/defaults.go), /dev/shm as a sized tmpfs."""
    return [
        Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount("/dev/pts", "devpts", "devpts",
              ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("ro", "nosuid", "noexec", "nodev")),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        Mount("/dev/shm", "tmpfs", "shm",
              ("nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size // 1024}k")),
    ]


@dataclass(frozen=True)
class Device:
    path: str
    type: str          # c, b, u, p
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.type, "major": self.major, "minor": self.minor,
                "fileMode": self.file_mode, "uid": self.uid, "gid": self.gid}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Device:
        return cls(d["path"], d.get("type", "c"), int(d.get("major", 0)), int(d.get("minor", 0)),
                   int(d.get("fileMode", 0o666)), int(d.get("uid", 0)), int(d.get("gid", 0)))


# The devices every container gets (runc creates these even if the spec omits them).
DEFAULT_DEVICES: tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3), Device("/dev/zero", "c", 1, 5), Device("/dev/full", "c", 1, 7),
    Device("/dev/tty", "c", 5, 0), Device("/dev/urandom", "c", 1, 9), Device("/dev/random", "c", 1, 8),
)

# linux.resources.devices as Docker writes it: deny all, then allow the safe set.
DEFAULT_DEVICE_RULES: tuple[dict[str, Any], ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
)


@dataclass(frozen=True)
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            d["additionalGids"] = list(self.additional_gids)
        if self.umask is not None:
            d["umask"] = self.umask
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> User:
        return cls(int(d.get("uid", 0)), int(d.get("gid", 0)),
                   tuple(int(g) for g in d.get("additionalGids") or ()), d.get("umask"))


_CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


@dataclass(frozen=True)
class Capabilities:
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()

    @classmethod
    def docker(cls, caps: tuple[str, ...] | list[str]) -> Capabilities:
        """Docker's layout: bounding = effective = permitted; no inheritable/ambient."""
        caps = tuple(caps)
        return cls(bounding=caps, effective=caps, permitted=caps)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(getattr(self, k)) for k in _CAP_SETS if getattr(self, k)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Capabilities:
        return cls(**{k: tuple(d.get(k) or ()) for k in _CAP_SETS})


@dataclass(frozen=True)
class Rlimit:
    type: str   # "RLIMIT_NOFILE"
    hard: int
    soft: int

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "hard": self.hard, "soft": self.soft}


@dataclass(frozen=True)
class ConsoleSize:
    height: int
    width: int


@dataclass(frozen=True)
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    user: User = User()
    terminal: bool = False
    console_size: ConsoleSize | None = None
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"terminal": self.terminal, "user": self.user.to_dict(),
                             "args": list(self.args), "env": list(self.env), "cwd": self.cwd}
        if self.console_size:
            d["consoleSize"] = {"height": self.console_size.height, "width": self.console_size.width}
        if self.capabilities is not None:
            d["capabilities"] = self.capabilities.to_dict()
        if self.rlimits:
            d["rlimits"] = [r.to_dict() for r in self.rlimits]
        if self.no_new_privileges:
            d["noNewPrivileges"] = True
        if self.oom_score_adj is not None:
            d["oomScoreAdj"] = self.oom_score_adj
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Process:
        cs = d.get("consoleSize")
        caps = d.get("capabilities")
        return cls(
            args=tuple(d.get("args") or ()), env=tuple(d.get("env") or ()), cwd=d.get("cwd") or "/",
            user=User.from_dict(d.get("user") or {}), terminal=bool(d.get("terminal")),
            console_size=ConsoleSize(int(cs.get("height", 0)), int(cs.get("width", 0))) if cs else None,
            capabilities=Capabilities.from_dict(caps) if caps is not None else None,
            rlimits=tuple(Rlimit(r["type"], int(r["hard"]), int(r["soft"])) for r in d.get("rlimits") or ()),
            no_new_privileges=bool(d.get("noNewPrivileges")), oom_score_adj=d.get("oomScoreAdj"))


@dataclass(frozen=True)
class Mount:
    destination: str
    type: str = "bind"
    source: str = ""
    options: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "type": self.type, "source": self.source,
                "options": list(self.options)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mount:
        return cls(d["destination"], d.get("type") or "", d.get("source") or "", tuple(d.get("options") or ()))


@dataclass(frozen=True)
class Namespace:
    type: str           # pid, network, mount, ipc, uts, user, cgroup
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path} if self.path else {"type": self.type}


@dataclass(frozen=True)
class Linux:
    namespaces: tuple[Namespace, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources: dict[str, Any] = field(default_factory=dict)
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    rootfs_propagation: str = ""
    sysctl: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"namespaces": [n.to_dict() for n in self.namespaces]}
        if self.devices:
            d["devices"] = [x.to_dict() for x in self.devices]
        if self.cgroups_path:
            d["cgroupsPath"] = self.cgroups_path
        if self.resources:
            d["resources"] = self.resources
        d["maskedPaths"] = list(self.masked_paths)
        d["readonlyPaths"] = list(self.readonly_paths)
        if self.rootfs_propagation:
            d["rootfsPropagation"] = self.rootfs_propagation
        if self.sysctl:
            d["sysctl"] = dict(self.sysctl)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Linux:
        return cls(
            namespaces=tuple(Namespace(n["type"], n.get("path") or "") for n in d.get("namespaces") or ()),
            devices=tuple(Device.from_dict(x) for x in d.get("devices") or ()),
            cgroups_path=d.get("cgroupsPath") or "", resources=dict(d.get("resources") or {}),
            masked_paths=tuple(d.get("maskedPaths") or ()), readonly_paths=tuple(d.get("readonlyPaths") or ()),
            rootfs_propagation=d.get("rootfsPropagation") or "", sysctl=dict(d.get("sysctl") or {}))


@dataclass(frozen=True)
class Root:
    path: str = "rootfs"
    readonly: bool = False


@dataclass(frozen=True)
class Spec:
    process: Process
    root: Root = Root()
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[Mount, ...] = ()
    linux: Linux = Linux()
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ociVersion": self.oci_version, "process": self.process.to_dict(),
            "root": {"path": self.root.path, "readonly": self.root.readonly},
            "hostname": self.hostname, "mounts": [m.to_dict() for m in self.mounts],
            "linux": self.linux.to_dict(),
        }
        if self.domainname:
            d["domainname"] = self.domainname
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Spec:
        if "process" not in d:
            raise ValueError("config.json: process is required")
        root = d.get("root") or {}
        return cls(
            process=Process.from_dict(d["process"]),
            root=Root(root.get("path") or "rootfs", bool(root.get("readonly"))),
            hostname=d.get("hostname") or "", domainname=d.get("domainname") or "",
            mounts=tuple(Mount.from_dict(m) for m in d.get("mounts") or ()),
            linux=Linux.from_dict(d.get("linux") or {}), annotations=dict(d.get("annotations") or {}),
            oci_version=d.get("ociVersion") or OCI_VERSION)


@dataclass(frozen=True)
class State:
    """The OCI state document (`runtime state ID`)."""
    id: str
    status: str           # creating | created | running | stopped
    pid: int
    bundle: str
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"ociVersion": self.oci_version, "id": self.id, "status": self.status,
                "pid": self.pid, "bundle": self.bundle, "annotations": dict(self.annotations)}
