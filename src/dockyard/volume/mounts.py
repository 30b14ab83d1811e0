"""A container's mounts as Docker reads them: `-v` specs, `--mount` objects, `--volumes-from`, tmpfs.

Pure: text and JSON in, `MountPoint` records (or Docker's error text) out. The rules and the
messages are moby's (volume/mounts/linux_parser.go, validate.go): a `-v` source that is an
absolute path is a bind, anything else names a volume (none: an anonymous one); a bind's
propagation defaults to rprivate; a volume copies the image's files at its path unless
`nocopy`. `oci_mount` turns a resolved mount point into the bundle's config.json entry.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument

__all__ = ["MountPoint", "parse_bind", "parse_mount", "parse_volumes_from", "read_write",
           "tmpfs_data", "merge_tmpfs_options", "check_tmpfs_destination", "check_destination",
           "oci_mount", "oci_tmpfs", "rro_supported", "PROPAGATIONS"]

PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared")
DEFAULT_PROPAGATION = "rprivate"
_RW_MODES = ("rw", "ro")
_LABEL_MODES = ("z", "Z")
_COPY_MODES = ("nocopy",)
_CONSISTENCY = ("consistent", "cached", "delegated")
_TYPES = ("bind", "volume", "tmpfs")


@dataclass
class MountPoint:
    """Docker's MountPoint: what a container's mount is, resolved at create."""

    type: str                    # "bind" | "volume" | "tmpfs"
    destination: str
    source: str = ""             # bind: the host path; volume: the volume's data dir once known
    name: str = ""               # volume: its name ("" until an anonymous one is made)
    driver: str = ""
    rw: bool = True
    mode: str = ""               # the options as the user wrote them ("ro", "z", ...)
    propagation: str = ""
    copy_data: bool = False      # fill an empty volume with the image's files at destination
    spec: dict[str, Any] = field(default_factory=dict)   # the Mount as given; Source "" = anonymous
    make_source: bool = False    # a `-v` bind: create a missing host path at start, as Docker does

    @property
    def anonymous(self) -> bool:
        return self.type == "volume" and not self.spec.get("Source")

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> MountPoint:
        return cls(**{k: v for k, v in rec.items() if k in cls.__dataclass_fields__})


# -- modes ------------------------------------------------------------------------------------------

def _valid_mode(mode: str) -> bool:
    """moby's linuxValidMountMode: known words, at most one of each kind."""
    if not mode:
        return True
    counts: dict[str, int] = {}
    for opt in mode.split(","):
        kind = ("rw" if opt in _RW_MODES else "label" if opt in _LABEL_MODES else
                "prop" if opt in PROPAGATIONS else "copy" if opt in _COPY_MODES else
                "consistency" if opt in _CONSISTENCY else "")
        if not kind:
            return False
        counts[kind] = counts.get(kind, 0) + 1
    return all(n == 1 for n in counts.values())


def read_write(mode: str) -> bool:
    return _valid_mode(mode) and "ro" not in mode.split(",")


def _propagation(mode: str) -> str:
    return next((o for o in mode.split(",") if o in PROPAGATIONS), "")


# -- validation (moby's validateMountConfigImpl) -------------------------------------------------------

def _config_error(kind: str, message: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {message}')


def check_destination(dest: str) -> str | None:
    """Docker's complaint about a container path, or None."""
    if posixpath.normpath(dest.replace("\\", "/")) in ("/", "//"):
        return "invalid specification: destination can't be '/'"
    if not dest.replace("\\", "/").startswith("/"):
        return f"invalid mount path: '{dest}' mount path must be absolute"
    return None


def check_tmpfs_destination(dest: str) -> None:
    problem = check_destination(dest)
    if problem:
        raise InvalidArgument(problem)


def _validate(m: dict[str, Any], bind_source_must_exist: bool, exists: Any) -> None:
    kind = str(m.get("Type") or "")
    for opts, owner in (("BindOptions", "bind"), ("VolumeOptions", "volume"), ("TmpfsOptions", "tmpfs"),
                        ("ImageOptions", "image"), ("ClusterOptions", "cluster")):
        if m.get(opts) is not None and kind != owner:
            raise _config_error(kind, f"field {opts} must not be specified")
    target = str(m.get("Target") or "")
    if not target:
        raise _config_error(kind, "field Target must not be empty")
    problem = check_destination(target)
    if problem:
        raise _config_error(kind, problem)
    source = str(m.get("Source") or "")
    if kind == "bind":
        if not source:
            raise _config_error(kind, "field Source must not be empty")
        prop = (m.get("BindOptions") or {}).get("Propagation") or ""
        if prop and prop not in PROPAGATIONS:
            raise _config_error(kind, f"invalid propagation mode: {prop}")
        if not source.startswith("/"):
            raise _config_error(kind, f"invalid mount path: '{source}' mount path must be absolute")
        _check_readonly_options(m)
        create = bool((m.get("BindOptions") or {}).get("CreateMountpoint"))
        if bind_source_must_exist and not create and not exists(source):
            raise _config_error(kind, f"bind source path does not exist: {source}")
    elif kind == "volume":
        sub = str((m.get("VolumeOptions") or {}).get("Subpath") or "")
        if sub:
            if not source:
                raise _config_error(kind, "must not set Subpath when using anonymous volumes")
            if sub.startswith("/") or ".." in sub.split("/"):
                raise _config_error(kind, "subpath must be a relative path within the volume")
    elif kind == "tmpfs":
        if source:
            raise _config_error(kind, "field Source must not be specified")
        try:
            tmpfs_data(m.get("TmpfsOptions"), bool(m.get("ReadOnly")))
        except ValueError as e:
            raise _config_error(kind, str(e)) from None
    elif kind == "image":
        raise _config_error(kind, "image mounts are not supported by this daemon")
    else:
        raise _config_error(kind, "mount type unknown")


def _check_readonly_options(m: dict[str, Any]) -> None:
    """The BindOptions read-only switches that contradict each other (moby checks them at start)."""
    bind = m.get("BindOptions") or {}
    non, force = bool(bind.get("ReadOnlyNonRecursive")), bool(bind.get("ReadOnlyForceRecursive"))
    if not m.get("ReadOnly") and non:
        raise InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive")
    if not m.get("ReadOnly") and force:
        raise InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive")
    if non and force:
        raise InvalidArgument("mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive")


def _mount_point(m: dict[str, Any]) -> MountPoint:
    kind = str(m["Type"])
    mp = MountPoint(type=kind, destination=posixpath.normpath(str(m["Target"])), rw=not m.get("ReadOnly"),
                    spec=dict(m))
    if kind == "volume":
        vopts = m.get("VolumeOptions") or {}
        mp.name = str(m.get("Source") or "")
        mp.driver = str((vopts.get("DriverConfig") or {}).get("Name") or "")
        mp.copy_data = not vopts.get("NoCopy")
    elif kind == "bind":
        mp.source = posixpath.normpath(str(m["Source"]))
        mp.propagation = (m.get("BindOptions") or {}).get("Propagation") or DEFAULT_PROPAGATION
    return mp


# -- the three ways in ------------------------------------------------------------------------------

def parse_mount(m: Any, exists: Any = None) -> MountPoint:
    """One HostConfig.Mounts entry (`--mount`): validated, a missing bind source is an error."""
    if not isinstance(m, dict):
        raise InvalidArgument("invalid mount config: a mount must be an object")
    m = {k: v for k, v in m.items() if v is not None}
    m["Type"] = str(m.get("Type") or "")
    _validate(m, True, exists or os.path.exists)
    return _mount_point(m)


def parse_bind(raw: str, volume_driver: str = "") -> MountPoint:
    """One HostConfig.Binds entry (`-v src:dst[:mode]`), as moby's ParseMountRaw reads it."""
    parts = raw.split(":", 3)
    if not parts[0]:
        raise InvalidArgument(f"invalid volume specification: '{raw}'")
    spec: dict[str, Any] = {}
    mode = ""
    if len(parts) == 1:
        spec["Target"] = parts[0]
    elif len(parts) == 2:
        if _valid_mode(parts[1]):   # "/foo:rw": a destination and a mode is no volume
            raise InvalidArgument(f"invalid volume specification: '{raw}'")
        spec["Source"], spec["Target"] = parts
    elif len(parts) == 3:
        spec["Source"], spec["Target"], mode = parts
    else:
        raise InvalidArgument(f"invalid volume specification: '{raw}'")
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    spec["Type"] = "bind" if str(spec.get("Source", "")).startswith("/") else "volume"
    spec["ReadOnly"] = not read_write(mode)
    if volume_driver and spec["Type"] == "volume":
        spec["VolumeOptions"] = {"DriverConfig": {"Name": volume_driver}}
    if "nocopy" in mode.split(","):
        spec.setdefault("VolumeOptions", {})["NoCopy"] = True
    if _propagation(mode):
        spec["BindOptions"] = {"Propagation": _propagation(mode)}
    try:
        _validate(spec, False, None)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid volume specification: '{raw}': {e.message}") from None
    mp = _mount_point(spec)
    mp.mode = mode
    mp.make_source = mp.type == "bind"
    return mp


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """`ctr[:ro|rw]` → (container, mode)."""
    if not spec:
        raise InvalidArgument("volumes-from specification cannot be an empty string")
    ident, _, mode = spec.partition(":")
    if not mode:
        return ident, "rw"
    if not _valid_mode(mode) or _propagation(mode) or "nocopy" in mode.split(","):
        raise InvalidArgument(f"invalid mode: {mode}")
    return ident, mode


# -- tmpfs ------------------------------------------------------------------------------------------

_TMPFS_FLAGS = {"defaults", "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async",
                "dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "bind",
                "rbind", "unbindable", "runbindable", "private", "rprivate", "shared", "rshared", "slave",
                "rslave", "relatime", "norelatime", "strictatime", "nostrictatime"}
# flags that cancel each other keep the last one given (moby's MergeTmpfsOptions)
_FLAG_GROUP = {"ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev",
               "nodev": "nodev", "exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync",
               "mand": "mand", "nomand": "mand", "atime": "noatime", "noatime": "noatime",
               "diratime": "nodiratime", "nodiratime": "nodiratime", "relatime": "relatime",
               "norelatime": "relatime", "strictatime": "strictatime", "nostrictatime": "strictatime",
               "dirsync": "dirsync", "remount": "remount"}
_TMPFS_DATA = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"}


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Docker's defaults + the user's, later ones winning; unknown options are refused."""
    seen: set[str] = set()
    out: list[str] = []
    for opt in reversed(options):
        if opt == "defaults":
            continue
        if opt in _TMPFS_FLAGS:
            key = "propagation" if opt in PROPAGATIONS or opt.endswith("bind") or "bindable" in opt \
                else _FLAG_GROUP.get(opt, opt)
        else:
            name, eq, _ = opt.partition("=")
            if not eq or name not in _TMPFS_DATA:
                raise InvalidArgument(f'invalid tmpfs option "{name}"')
            key = "=" + name
        if key not in seen:
            seen.add(key)
            out.insert(0, opt)
    return out


def tmpfs_data(opts: Any, readonly: bool) -> str:
    """A `--mount type=tmpfs` mount's TmpfsOptions → mount data (moby's ConvertTmpfsOptions)."""
    raw: list[str] = ["ro"] if readonly else []
    opts = opts or {}
    if opts.get("Mode"):
        raw.append(f"mode={int(opts['Mode']):o}")
    size = int(opts.get("SizeBytes") or 0)
    if size:
        for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                raw.append(f"size={size // div}{suffix}")
                break
        else:
            raw.append(f"size={size}")
    for item in opts.get("Options") or []:
        if not isinstance(item, list) or not 1 <= len(item) <= 2:
            raise ValueError("invalid option array length")
        if item[0] not in ("exec", "noexec"):
            raise ValueError(f"invalid option: {item[0]}")
        raw.append("=".join(str(x) for x in item))
    return ",".join(raw)


# -- config.json ------------------------------------------------------------------------------------

def rro_supported() -> bool:
    """Recursive read-only needs mount_setattr (Linux 5.12)."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 12)


def oci_mount(source: str, mp: MountPoint, rro_ok: bool = True) -> dict[str, Any]:
    """A bind (or volume) mount as moby writes it: rbind (bind if non-recursive), read-only
    recursively ("rro") unless the mount asks for the old non-recursive "ro", the propagation."""
    bind = (mp.spec.get("BindOptions") or {}) if mp.type == "bind" else {}
    options = ["bind" if bind.get("NonRecursive") else "rbind"]
    if not mp.rw:
        recursive = not bind.get("ReadOnlyNonRecursive")
        if recursive and not rro_ok:
            if bind.get("ReadOnlyForceRecursive"):
                raise InvalidArgument("rro is not supported: kernel is older than 5.12")
            recursive = False
        options.append("rro" if recursive else "ro")
    if mp.propagation:
        options.append(mp.propagation)
    return {"destination": mp.destination, "type": "bind", "source": source, "options": options}


def oci_tmpfs(destination: str, data: str) -> dict[str, Any]:
    options = merge_tmpfs_options(["noexec", "nosuid", "nodev", DEFAULT_PROPAGATION]
                                  + ([o for o in data.split(",") if o] if data else []))
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": options}
