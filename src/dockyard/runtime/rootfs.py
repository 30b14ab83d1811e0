"""The container's filesystem view: mounts, /dev, pivot_root, masked and read-only paths.

Runs in the container's init, inside its new mount namespace.  Order (as runc):
make "/" private → bind rootfs onto itself → spec mounts in order (each
destination resolved inside rootfs, symlinks included) → device nodes and /dev
symlinks → pivot_root → masked paths → read-only paths → read-only root.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable

from dockyard.oci.runtime_spec import Device, Mount
from dockyard.runtime import syscalls as sc
from dockyard.securejoin import resolve_in_root

__all__ = [
    "secure_join", "parse_mount_options", "recursive_attrs", "make_private", "bind_rootfs", "mount_all",
    "create_devices", "setup_dev_symlinks", "pivot_root", "mask_paths", "readonly_paths",
    "remount_root_readonly", "mount_console",
]

_SET_FLAGS = {
    "bind": sc.MS_BIND, "rbind": sc.MS_BIND | sc.MS_REC, "dirsync": sc.MS_DIRSYNC,
    "mand": sc.MS_MANDLOCK, "noatime": sc.MS_NOATIME, "nodev": sc.MS_NODEV,
    "nodiratime": sc.MS_NODIRATIME, "noexec": sc.MS_NOEXEC, "nosuid": sc.MS_NOSUID,
    "relatime": sc.MS_RELATIME, "remount": sc.MS_REMOUNT, "ro": sc.MS_RDONLY,
    "strictatime": sc.MS_STRICTATIME, "sync": sc.MS_SYNCHRONOUS, "defaults": 0,
}
_CLEAR_FLAGS = {
    "async": sc.MS_SYNCHRONOUS, "atime": sc.MS_NOATIME, "dev": sc.MS_NODEV,
    "diratime": sc.MS_NODIRATIME, "exec": sc.MS_NOEXEC, "nomand": sc.MS_MANDLOCK,
    "norelatime": sc.MS_RELATIME, "nostrictatime": sc.MS_STRICTATIME, "rw": sc.MS_RDONLY,
    "suid": sc.MS_NOSUID,
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# runc's recursive options ("rro" ...): mount_setattr(AT_RECURSIVE) attributes (set, clear) they apply.
_RECURSIVE = {
    "rro": (sc.MOUNT_ATTR_RDONLY, 0), "rrw": (0, sc.MOUNT_ATTR_RDONLY),
    "rnosuid": (sc.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, sc.MOUNT_ATTR_NOSUID),
    "rnodev": (sc.MOUNT_ATTR_NODEV, 0), "rdev": (0, sc.MOUNT_ATTR_NODEV),
    "rnoexec": (sc.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, sc.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (sc.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, sc.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (sc.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, sc.MOUNT_ATTR_NOSYMFOLLOW),
    # the atime field: clearing MOUNT_ATTR_ATIME selects it, attr_set gives its value
    "rrelatime": (sc.MOUNT_ATTR_RELATIME, sc.MOUNT_ATTR_ATIME),
    "rnoatime": (sc.MOUNT_ATTR_NOATIME, sc.MOUNT_ATTR_ATIME),
    "rstrictatime": (sc.MOUNT_ATTR_STRICTATIME, sc.MOUNT_ATTR_ATIME),
}
# statvfs f_flag bits that mean the same as the MS_* flags; kept on remount.
_KEEP_ON_REMOUNT = (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_SYNCHRONOUS | sc.MS_MANDLOCK
                    | sc.MS_NOATIME | sc.MS_NODIRATIME | sc.MS_RELATIME)


def secure_join(root: str, unsafe: str) -> str:
    """Resolve `unsafe` as if `root` were "/": symlinks and ".." never leave root."""
    return resolve_in_root(root, unsafe)


def parse_mount_options(options: Iterable[str]) -> tuple[int, int, str]:
    """→ (mount flags, propagation flags, data string) as runc parses them."""
    flags = 0
    prop = 0
    data: list[str] = []
    for opt in options:
        if opt in _SET_FLAGS:
            flags |= _SET_FLAGS[opt]
        elif opt in _CLEAR_FLAGS:
            flags &= ~_CLEAR_FLAGS[opt]
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        elif opt == "tmpcopyup" or opt in _RECURSIVE:
            continue
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def recursive_attrs(options: Iterable[str]) -> tuple[int, int]:
    """(attr_set, attr_clr) for mount_setattr from the recursive options ("rro", "rnosuid", ...)."""
    attr_set = attr_clr = 0
    for opt in options:
        if opt in _RECURSIVE:
            on, off = _RECURSIVE[opt]
            attr_set, attr_clr = (attr_set & ~off) | on, (attr_clr & ~on) | off
    return attr_set, attr_clr


def _err(e: OSError, what: str) -> OSError:
    return OSError(e.errno, f"{what}: {e.strerror}")


def make_private(propagation: str = "") -> None:
    """Stop mount events reaching the host: "/" rprivate unless the spec asks otherwise."""
    flag = _PROPAGATION.get(propagation, sc.MS_PRIVATE | sc.MS_REC)
    sc.mount(None, "/", None, flag, None)


def bind_rootfs(rootfs: str) -> None:
    """pivot_root needs the new root to be a mount point; the engine's overlay may already be one."""
    try:
        sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC, None)
    except OSError as e:
        raise _err(e, f"bind mount rootfs {rootfs}") from None


def _mkdirs(path: str) -> None:
    os.makedirs(path, 0o755, exist_ok=True)


def _ensure_target(dest: str, is_dir: bool) -> None:
    if is_dir:
        if not os.path.isdir(dest):
            _mkdirs(dest)
        return
    if os.path.lexists(dest):
        return
    _mkdirs(os.path.dirname(dest))
    os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


def _fs_flags(path: str) -> int:
    return os.statvfs(path).f_flag & _KEEP_ON_REMOUNT


def _mount_one(m: Mount, rootfs: str, bundle: str, cgroupns: bool,
               before_cgroup_mount: Callable[[], None] | None) -> None:
    dest = secure_join(rootfs, m.destination)
    flags, prop, data = parse_mount_options(m.options)
    if m.type == "cgroup":
        if before_cgroup_mount is not None:
            before_cgroup_mount()
        _mount_cgroup(dest, flags, cgroupns)
        return
    if m.type == "bind" or flags & sc.MS_BIND:
        source = m.source if os.path.isabs(m.source) else os.path.join(bundle, m.source)
        try:
            src_dir = os.path.isdir(source)
            if not os.path.exists(source):
                raise FileNotFoundError(errno.ENOENT, "no such file or directory")
            _ensure_target(dest, src_dir)
            sc.mount(source, dest, None, sc.MS_BIND | (flags & sc.MS_REC), None)
            extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
            if extra:
                sc.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | extra | _fs_flags(dest), None)
        except OSError as e:
            raise _err(e, f"mount {source} to {m.destination}") from None
    else:
        try:
            _ensure_target(dest, True)
            sc.mount(m.source or m.type, dest, m.type, flags, data or None)
        except OSError as e:
            raise _err(e, f"mount {m.type} to {m.destination}") from None
    attr_set, attr_clr = recursive_attrs(m.options)
    if attr_set or attr_clr:
        try:
            sc.mount_setattr(dest, attr_set, attr_clr)
        except OSError as e:
            raise _err(e, f"set recursive mount attributes of {m.destination}") from None
    if prop:
        sc.mount(None, dest, None, prop, None)


def _cgroup_v1_mounts() -> tuple[list[tuple[str, str, str]], str]:
    """→ ([(host mount point, controllers, own cgroup path)] for v1, own v2 path).

    Controllers are spelled as /proc/self/cgroup spells them ("cpu,cpuacct",
    "name=systemd"), matched against each cgroup mount's super options.
    """
    own: dict[frozenset[str], tuple[str, str]] = {}
    v2_path = "/"
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls:
                own[frozenset(ctrls.split(","))] = (ctrls, path)
            else:
                v2_path = path
    known = set().union(*own) if own else set()
    seen: set[frozenset[str]] = set()
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, extra = pre.split(), post.split()
            if len(extra) < 3 or extra[0] != "cgroup":
                continue
            key = frozenset(o for o in extra[2].split(",") if o in known)
            if key in own and key not in seen:
                seen.add(key)
                ctrls, path = own[key]
                out.append((fields[4], ctrls, path))
    return out, v2_path


def _mount_cgroup(dest: str, flags: int, cgroupns: bool) -> None:
    """/sys/fs/cgroup in the container: the container's own cgroups, read-only (runc's layout)."""
    ro = flags & sc.MS_RDONLY
    base = flags & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    hierarchies, v2_path = _cgroup_v1_mounts()
    _ensure_target(dest, True)
    if not hierarchies:  # unified (v2) host
        if cgroupns:
            sc.mount("cgroup2", dest, "cgroup2", flags, None)
        else:
            sc.mount("/sys/fs/cgroup" + v2_path, dest, None, sc.MS_BIND | sc.MS_REC, None)
            sc.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | flags, None)
        return
    sc.mount("tmpfs", dest, "tmpfs", base, "mode=755")
    for mountpoint, ctrls, rel in hierarchies:
        name = os.path.basename(mountpoint)
        sub = os.path.join(dest, name)
        _mkdirs(sub)
        if cgroupns:
            data = ctrls if ctrls and not ctrls.startswith("name=") else f"none,{ctrls}"
            sc.mount("cgroup", sub, "cgroup", base | ro, data)
        else:
            sc.mount(mountpoint + rel, sub, None, sc.MS_BIND | sc.MS_REC, None)
            sc.mount(None, sub, None, sc.MS_BIND | sc.MS_REMOUNT | base | ro, None)
        if "," in name:  # co-mounted controllers: cpu -> cpu,cpuacct
            for alias in name.split(","):
                link = os.path.join(dest, alias)
                if not os.path.lexists(link):
                    os.symlink(name, link)


def mount_all(mounts: Iterable[Mount], rootfs: str, bundle: str, cgroupns: bool,
              before_cgroup_mount: Callable[[], None] | None = None) -> None:
    """Mount in order; ``before_cgroup_mount`` runs first if a cgroup mount comes up (the
    process must be in its cgroup, and its cgroup namespace, by then)."""
    for m in mounts:
        _mount_one(m, rootfs, bundle, cgroupns, before_cgroup_mount)


def create_devices(devices: Iterable[Device], rootfs: str) -> None:
    """mknod each device (the defaults then the spec's), owner and mode as asked."""
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for d in devices:
        dest = secure_join(rootfs, d.path)
        _mkdirs(os.path.dirname(dest))
        try:
            os.mknod(dest, kinds[d.type] | (d.file_mode & 0o7777), os.makedev(d.major, d.minor))
        except FileExistsError:
            continue
        except OSError as e:
            raise _err(e, f"mknod {d.path}") from None
        os.chown(dest, d.uid, d.gid)


def setup_dev_symlinks(rootfs: str) -> None:
    links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "core"))
    dev = secure_join(rootfs, "/dev")
    for target, name in links:
        path = os.path.join(dev, name)
        if name == "ptmx" and os.path.lexists(path):
            os.unlink(path)
        try:
            os.symlink(target, path)
        except FileExistsError:
            pass


def pivot_root(rootfs: str) -> None:
    """pivot_root(".", ".") then detach the old root stacked underneath (runc's trick: no put_old dir)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        sc.pivot_root(".", ".")
        os.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
        sc.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    except OSError as e:
        raise _err(e, "pivot_root") from None
    finally:
        os.close(old)
        os.close(new)


def mask_paths(paths: Iterable[str]) -> None:
    for p in paths:
        try:
            if os.path.isdir(p):
                sc.mount("tmpfs", p, "tmpfs", sc.MS_RDONLY, None)
            else:
                sc.mount("/dev/null", p, None, sc.MS_BIND, None)
        except FileNotFoundError:
            continue
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise _err(e, f"mask {p}") from None


def readonly_paths(paths: Iterable[str]) -> None:
    for p in paths:
        try:
            sc.mount(p, p, None, sc.MS_BIND | sc.MS_REC, None)
            sc.mount(None, p, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | _fs_flags(p), None)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise _err(e, f"make {p} read-only") from None


def remount_root_readonly() -> None:
    sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _fs_flags("/"), None)


def mount_console(slave_path: str) -> None:
    """Bind the pty slave over /dev/console, as runc does for terminal containers."""
    if not os.path.lexists("/dev/console"):
        os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    sc.mount(slave_path, "/dev/console", None, sc.MS_BIND, None)
